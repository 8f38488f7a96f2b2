"""Whether a larger value of a metric is better, from the metric's name (loss: no; accuracy: yes; unknown: None).

Shared by the results loader (a direction the file does not state) and the catalog's per-student curves.
"""
from __future__ import annotations

import re

_LOWER_IS_BETTER = re.compile(
    r"neg(ative)?_?log_?likelihood|nll|loss|perplexity|ppl|bpb|bpc|bits|error|xent|cross_?entropy"
    r"|(?<![a-z0-9])(err|mse|mae|rmse|wer|cer|kl)(?![a-z0-9])"
)
_HIGHER_IS_BETTER = re.compile(
    r"log_?likelihood|acc|score|f1|exact_match|bleu|rouge|pass@|chrf|precision|recall|win_rate"
    r"|(?<![a-z0-9])(em|mcc|auc)(?![a-z0-9])"
)


def infer_higher_is_better(metric: str) -> bool | None:
    """Whether a larger value of `metric` is better, from its name; None when the name does not say.

    Lower is better: loss, perplexity/ppl, bits/bpb/bpc, error/err, nll, cross-entropy, mse/mae/rmse, wer/cer, kl.
    Higher is better: acc/accuracy, score, f1, exact_match/em, bleu, rouge, pass@k, chrf, mcc, auc, precision,
    recall, win_rate, log-likelihood. Lower-is-better words are checked first ("val_loss_score" is a loss).
    """
    name = str(metric).strip().lower()
    if not name:
        return None
    if _LOWER_IS_BETTER.search(name):
        return False
    if _HIGHER_IS_BETTER.search(name):
        return True
    return None
