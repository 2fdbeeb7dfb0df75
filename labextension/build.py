"""Build the extension into ../kalec/labextension, the folder the Python package ships (as
share/jupyter/labextensions/kalec-labextension), against the JupyterLab of this environment.

Run by ``npm run build`` after TypeScript's compile; needs ``pip install jupyterlab`` and
``npm ci`` in this folder. The result is committed, so installing kalec needs no Node.js.
"""

import json
import os
import subprocess
import sys

import jupyterlab

HERE = os.path.dirname(os.path.abspath(__file__))
BUILDER = os.path.join(
    HERE, "node_modules", "@jupyterlab", "builder", "lib", "build-labextension.js"
)
OUTPUT = os.path.join(HERE, "..", "kalec", "labextension")

core = os.path.join(os.path.dirname(jupyterlab.__file__), "staging")
code = subprocess.call(["node", BUILDER, "--core-path", core, HERE])
if code == 0:
    install = {
        "packageManager": "python",
        "packageName": "kalec",
        "uninstallInstructions": "pip uninstall kalec",
    }
    with open(os.path.join(OUTPUT, "install.json"), "w", encoding="utf-8") as handle:
        json.dump(install, handle, indent=2)
        handle.write("\n")
sys.exit(code)
