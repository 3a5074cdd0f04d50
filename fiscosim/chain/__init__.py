"""The ledger's data model, written to be read like a specification of FISCO BCOS 3.x.

One module per concept, each citing the section of docs/fisco-reference.md it models:

- :mod:`~fiscosim.chain.encoding` — the canonical msgpack encoding every hash and size rests on;
- :mod:`~fiscosim.chain.transaction` — a transaction, its hash, signature and sender (§2.1);
- :mod:`~fiscosim.chain.txbatch` — the columnar batch of transactions the simulator moves around;
- :mod:`~fiscosim.chain.receipt` — a receipt, a block's receipts as columns, the receipts root
  (§2.9);
- :mod:`~fiscosim.chain.block` — block header, its hash and signature list, the executed block
  the engine's ledgers hold (§2.6);
- :mod:`~fiscosim.chain.config` — system configuration, consensus weights and the quorum (§1.3, §5).

This package never imports simpy and knows nothing about simulated time.
"""

from fiscosim.chain.block import (
    Block,
    BlockHeader,
    ParentInfo,
    SealerSignature,
    SignatureList,
    check_signature_list,
    executed_block,
    genesis_block,
    sign_header,
    txs_root,
)
from fiscosim.chain.config import ConsensusNode, SystemConfig, max_faulty, quorum
from fiscosim.chain.receipt import LogEntry, Receipt, ReceiptBatch, receipts_root
from fiscosim.chain.transaction import SignedTransaction, Transaction
from fiscosim.chain.txbatch import TxBatch

__all__ = [
    "Block",
    "BlockHeader",
    "ConsensusNode",
    "LogEntry",
    "ParentInfo",
    "Receipt",
    "ReceiptBatch",
    "SealerSignature",
    "SignatureList",
    "SignedTransaction",
    "SystemConfig",
    "Transaction",
    "TxBatch",
    "check_signature_list",
    "executed_block",
    "genesis_block",
    "max_faulty",
    "quorum",
    "receipts_root",
    "sign_header",
    "txs_root",
]
