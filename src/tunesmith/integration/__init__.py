"""Glue to other libraries (``ray.tune.integration``).

Each library has its own module, imported by name (``tunesmith.integration.keras``,
``.pytorch_lightning``, ``.xgboost``, ``.lightgbm``, ...), which imports that library.
This package itself imports none of them.
"""
