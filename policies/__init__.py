"""The gate policy library, installed as the package ``gate.policy_library``.

Only Rego and YAML live here; this file exists so setuptools' editable
installs can map the folder (a package without it is not found there).
"""
