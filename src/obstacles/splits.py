"""The three splits (DESIGN section 2.4), one spelling everywhere.

`train` fits the model and its sample weights; `val` picks the checkpoint and stops training
early; `eval` is touched only by evaluation and the threshold search, so the numbers the team
acts on come from images that neither trained nor selected the model.
"""

TRAIN = "train"
VAL = "val"
EVAL = "eval"
SPLITS = (TRAIN, VAL, EVAL)
