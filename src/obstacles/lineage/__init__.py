"""The data lineage library: names, the triage rule, the split math, sites, recordings and folder views."""
