"""``kalec tune``: hyperparameter searches over the notebook's pipeline parameters, run here with
the step cache (steps a parameter does not reach run once for the whole search), or written as
a Katib Experiment (``--target katib``).

May import the IR, the local runner, the packaging and the targets (the Katib target builds on
kfp's); not the service or the CLI.
"""
