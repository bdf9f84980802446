"""Asset checks: verdicts on what the stages wrote."""
