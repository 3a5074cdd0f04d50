"""The scenario's limits: the largest values, texts and files a scenario may have, each with why.

Every range of the schema's fields that is not a FISCO BCOS limit of its own is one of these
(docs/scenario-reference.md lists them); the file limits (:data:`MAX_FILE_BYTES`,
:data:`MAX_DEPTH`, :data:`MAX_YAML_VALUES`) are applied by the loader
(:mod:`fiscosim.scenario`) and by ``--set`` values (:mod:`fiscosim.scenario.yamltext`).
"""

from __future__ import annotations

MAX_FILE_BYTES = 1 << 20
"""A scenario file is at most 1 MiB. Scenarios are a few KB (1,000 named nodes are ~50 KB);
a bigger file is a mistake, and one of 50 MB took a minute to load."""
MAX_DEPTH = 32
"""Nesting levels of a scenario file or a ``--set`` value; the schema needs 7. PyYAML builds
nested collections recursively and hit Python's recursion limit at ~1,000 levels."""
MAX_YAML_VALUES = 20_000
"""Keys, list items and scalars in a scenario file or a ``--set`` value, aliases counted each
time they are used (so that a few lines of aliases cannot expand to billions of values).
1,000 named nodes are ~7,000; PyYAML takes ~100 µs a value, so reaching the cap takes ~2 s
(a million keys once took 182 s)."""
MAX_TEXT = 10_000
"""Characters of any text field (``description``, names, paths): a 50 MB description was once
accepted, took a minute and was copied into every manifest.json."""
MAX_NODES = 1000
"""Nodes in a scenario: 1,000 sealers, the largest deployment modelled; a full mesh of n nodes
holds n(n-1) directed links (~5 KB each, about 5 GB at 1,000)."""
MAX_RUN_S = 86_400.0
"""Simulated seconds of workload, and of drain: one day each. A run goes at about real time
(a 100-node one at half of it), so a longer one is a hang rather than a run."""
MAX_TPS = 1_000_000.0
"""Offered transactions per second: 20× FISCO BCOS's 50,000 TPS (and 20× a 10× overload of
scenarios/server-8core-lan.yaml); what rate × duration needs in memory is estimated apart."""
MAX_COST_US = 1_000_000.0
"""A per-operation cost in µs: one second. Costs are microseconds; more is a unit mistake."""
MAX_CORES = 256
"""Cores of a node: the CPU model scans every core for each task (O(cores)), and the largest
servers have 256 hardware threads."""

MAX_DELAY_MS = 60_000.0
"""The largest one-way latency mean or std, and the largest per-message fault delay, in ms: one
minute. No real link comes near it, and beyond it draws stop being delays: a std of 1e300 ms
once wrapped around int64 into messages delivered before they were sent. The same bound as
``fiscosim.net.latency.MAX_LATENCY_MS`` (kept apart: loading a scenario imports no numpy)."""
