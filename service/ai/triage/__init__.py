"""Failure triage: the cause of a dead letter or an item in review, and the fix to propose.

Pure inference, no Flask and no store: ``failure`` turns what is known of a failure into features,
``rulebook`` matches the known causes of rules/triage.yaml, ``model`` finds similar failures people
resolved before (TF-IDF character n-grams, nearest neighbours), ``proposer`` weighs the two. The
service (service/operations/triage.py) reads failures and labels from the store and applies the fixes.
"""

from service.ai.triage.failure import Failure, feature_text, normalise
from service.ai.triage.model import Example, Neighbour, TriageModel
from service.ai.triage.proposer import Proposal, observed_example, propose
from service.ai.triage.rulebook import Rulebook, RulebookError

__all__ = ["Example", "Failure", "Neighbour", "Proposal", "Rulebook", "RulebookError", "TriageModel",
           "feature_text", "normalise", "observed_example", "propose"]
