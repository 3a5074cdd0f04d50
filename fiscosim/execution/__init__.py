"""Executing a block: how long a node's executor takes for it, serially, as a DAG by conflict
keys, or by DMC.

Pure functions over numpy columns of one block's transactions in block order (no object per
transaction, no simulated time): :func:`conflict_levels` (the block's DAG by conflict keys),
:func:`level_makespan`, :func:`serial_time`, :func:`dmc_time`, and :func:`execute_block`, which
puts them together for one of :data:`MODES` and returns a :class:`BlockExecution`. The facts
below are docs/fisco-reference.md §2.8, with their sources there.

**Which mode FISCO 3.x uses.** The genesis option `[executor] is_serial_execute` picks the
block executive (FB `bcos-scheduler/src/BlockExecutiveFactory.cpp`):

- `true`: `SerialBlockExecutive` sends the whole block to one executor, which runs the
  transactions one after another on one thread (`SERIAL_EXECUTIVE_FLOW_ADDRESS`,
  `ExecutiveSerialFlow`); the `DAG` attribute is ignored. This is the default of generated
  chains: `build_chain.sh` writes `is_serial_execute=${serial_mode}` with `serial_mode="true"`
  ("-R ... default is true"), and BcosBuilder's `tpl/config.genesis` writes `true`; DOC
  `3.x/zh_CN/docs/design/parallel/pipeline.md` calls serial "默认模式" (the default mode).
  Only when the key is absent does `NodeConfig::loadExecutorConfig` default to `false`.
- `false`: `BlockExecutive` first runs every transaction whose `DAG` attribute is set as a DAG
  (`DAGExecute`), then everything else by DMC (`DMCExecute`). The executor puts a transaction
  in the DAG only if it can read its conflict fields: a parallel precompiled
  (`isParallelPrecompiled`, e.g. `DagTransferPrecompiled`, whose fields are the user names,
  each suffixed with the contract address) or a Solidity function whose ABI lists
  `conflictFields` (FISCO's compiler derives them since 3.0.0-rc3; a field of kind `All` or an
  ABI without them sends the transaction back to DMC) (FB
  `bcos-executor/src/executor/TransactionExecutor.cpp`, `dagExecuteTransactionsInternal`,
  `extractConflictFields`). The client sets the attribute (FB
  `bcos-sdk/sample/tars/performanceTransfer.cpp`: `EVM_ABI_CODEC | DAG`).

So, per contract kind:

======================================  ===========  ===========================
contract                                default      `is_serial_execute=false`
======================================  ===========  ===========================
precompiled `DagTransfer` (DAG attr.)   ``serial``   ``dag`` (keys: from, to)
Solidity parallel (`ParallelOk`)        ``serial``   ``dag`` (conflict fields)
plain Solidity                          ``serial``   ``dmc`` (per contract)
======================================  ===========  ===========================

`config.ini`'s `[executor] enable_dag` (default true) is read only by the sharding DAG flow
(`ExecutiveDagFlow::generateDagCriticals`), not by this DAG step. The experimental pipeline
schedulers (`baseline_scheduler`, `baseline_scheduler_parallel`, both false by default) are
not modelled.

**Executor threads.** Both parallel paths use every hardware thread of the node: the executor's
pool has `std::thread::hardware_concurrency()` threads and DMC's per-contract flows run on it
(`TransactionExecutor`'s `m_threadPool`, `ExecutiveFlowInterface::asyncTo`); the DAG runs on
TBB's default arena (one thread per hardware thread; `TxDAG2::run` ignores its thread-count
argument); 2.x sized its DAG thread group the same way (FB@v2.9.0 `BlockVerifier`,
`m_threadNum`; DOC `2.x/docs/design/parallel/dag.md` §3.2). So ``cores`` is the node's core
count, shared with the node's other work. (The pipeline scheduler's parallel mode alone has
its own cap: `baseline_scheduler_maxthread`, default 16.)
"""

from fiscosim.execution.block import MODES, BlockExecution, execute_block
from fiscosim.execution.dag import NON_DAG_POLICIES, NOT_IN_DAG, conflict_levels
from fiscosim.execution.timing import dmc_stages, dmc_time, level_makespan, serial_time

__all__ = [
    "MODES",
    "NON_DAG_POLICIES",
    "NOT_IN_DAG",
    "BlockExecution",
    "conflict_levels",
    "dmc_stages",
    "dmc_time",
    "execute_block",
    "level_makespan",
    "serial_time",
]
