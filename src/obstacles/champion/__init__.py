"""Champion vs challenger on the same frames (DESIGN section 5b): is the new model better than the one
it would replace (by default the deployed model, whose score every recording holds)?

* `delong`: pure math: DeLong's test for two correlated ROC curves (the fast midrank algorithm).
* `paired`: pure math: the paired bootstrap of the coverage difference, frames needed, the verdict.
* `compare`: the comparison on a table of paired scores, globally and per site (no files).
* `job`: reading the predictions, writing `champion.json`, `per_site.csv`, `roc_overlay.png`, W&B.
"""
