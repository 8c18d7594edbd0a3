"""itjax: information theory for machine learning in JAX.

Exact functionals of distributions, estimators from samples and neural bounds,
all pure functions that jit, vmap and differentiate. Quantities are in nats
unless `base=` says otherwise. Each private module lists its public names in
`__all__`; they are re-exported here.
"""

from itjax._src import (
    binary,
    copula,
    discrete,
    divergences,
    functionals,
    gaussian,
    joint,
    kde,
    knn,
    montecarlo,
    normal,
    nsb,
    stats,
    transport,
)
from itjax._src._utils import Estimate as Estimate
from itjax._src.binary import *  # noqa: F403
from itjax._src.copula import *  # noqa: F403
from itjax._src.discrete import *  # noqa: F403
from itjax._src.divergences import *  # noqa: F403
from itjax._src.functionals import *  # noqa: F403
from itjax._src.gaussian import *  # noqa: F403
from itjax._src.joint import *  # noqa: F403
from itjax._src.kde import *  # noqa: F403
from itjax._src.knn import *  # noqa: F403
from itjax._src.montecarlo import *  # noqa: F403
from itjax._src.neural import bounds as _bounds
from itjax._src.neural import critics as _critics
from itjax._src.neural import train as _train
from itjax._src.neural.bounds import *  # noqa: F403
from itjax._src.neural.critics import *  # noqa: F403
from itjax._src.neural.train import *  # noqa: F403
from itjax._src.normal import *  # noqa: F403
from itjax._src.nsb import *  # noqa: F403
from itjax._src.stats import *  # noqa: F403
from itjax._src.transport import *  # noqa: F403

__version__ = "0.1.0"

__all__ = sorted(
    {"Estimate"}
    | {
        name
        for module in (
            binary,
            copula,
            discrete,
            divergences,
            functionals,
            gaussian,
            joint,
            kde,
            knn,
            montecarlo,
            normal,
            nsb,
            stats,
            transport,
            _bounds,
            _critics,
            _train,
        )
        for name in module.__all__
    }
)
