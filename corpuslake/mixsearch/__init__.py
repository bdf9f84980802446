"""Mixture weights found by proxy runs (RegMix-style): sample weight vectors over pinned sources, train one
small language model per vector, fit weights to target loss, publish the predicted best as a mixture."""
