"""The AVF-MAE++ model zoo, public facade: `import zoo; zoo.create_model("avfmae-base", num_classes=11)`.

The implementation is `avfmae.zoo`; this package re-exports its API, and its submodules are the very same
module objects (`zoo.weights is avfmae.zoo.weights`), so `from zoo.weights import ...` and monkeypatching
`zoo.weights.<name>` reach the real code. Code inside `avfmae` imports `avfmae.zoo`, never this facade.
"""
import sys as _sys

from avfmae.zoo import *  # noqa: F401,F403  (the public API)
from avfmae.zoo import __all__  # noqa: F401
from avfmae.zoo import _registry, adapters, checkpoint, factory, models, spec, weights

for _name, _module in (("_registry", _registry), ("adapters", adapters), ("checkpoint", checkpoint), ("factory", factory),
                       ("models", models), ("spec", spec), ("weights", weights)):
    _sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module
