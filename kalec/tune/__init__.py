"""``kalec tune``: hyperparameter searches over the notebook's pipeline parameters, run here with
the step cache (steps a parameter does not reach run once for the whole search), or written as
a Katib Experiment (``--target katib``).

Imports from kalec: ir, local, searchspace. Not the service or the CLI.
"""
