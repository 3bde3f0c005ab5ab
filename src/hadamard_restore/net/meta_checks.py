"""Checks of a checkpoint's ``meta`` block made before any network is built from it.

A model file names its network's size in ``meta["net"]``; a damaged or hand-made file could
declare ``channels: 200000`` (a 360 GB network from an 80 KB file) or ``channels: "eight"``.
:func:`checked_net_settings` holds it to the same types and bounds as the config's ``net``
section (:class:`~hadamard_restore.config.NetConfig`), so such a file is a
:class:`~hadamard_restore.errors.CheckpointError` (exit 2), not an out-of-memory traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from hadamard_restore.config import NetConfig
from hadamard_restore.config_yaml import short_repr
from hadamard_restore.errors import CheckpointError

NET_KEYS = ("channels", "num_hnu", "norm", "upsample")  # the network settings a model file records


def checked_net_settings(net: Any) -> dict:
    """The ``net`` block of a checkpoint's meta, checked like the config's ``net`` section
    (types, and bounds such as ``channels <= 1024``) before any network is built."""
    net = net if net is not None else {}
    if not isinstance(net, Mapping):
        problems = [f"it is a {type(net).__name__}, not a mapping"]
    else:
        try:
            settings = {k: net[k] for k in NET_KEYS if k in net}
            NetConfig.model_validate(settings)
            return settings
        except ValidationError as exc:
            problems = [f"{e['loc'][0]}: {e['msg']} (got {short_repr(e.get('input'))})" for e in exc.errors()]
    raise CheckpointError(
        f"the checkpoint's net settings are invalid ({'; '.join(problems)}); the file is damaged or "
        "from an incompatible version: use another checkpoint or re-run the training that wrote it"
    )
