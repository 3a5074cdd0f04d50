"""The narration in Simplified Chinese (``fiscosim trace narrate --lang zh``).

FISCO BCOS's community reads Chinese first; this module holds the Chinese of everything
:mod:`fiscosim.trace.narrate` and :mod:`fiscosim.trace.narration` say in English:

- :data:`TEXTS`: each PBFT core event type (:mod:`fiscosim.consensus.events`) → its sentence,
  the Chinese of ``narrate._TEXTS`` (:class:`~fiscosim.trace.narrate.Narrator` with
  ``lang="zh"`` uses it);
- :data:`WORDS`: the trace's other records, the Chinese of ``narration._WORDS["en"]`` (same
  keys, same ``{placeholders}``);
- :data:`LABEL`: a sealer's label (English "sealer {i} ({name})"); :data:`NODE` and
  :data:`NODES`: the prefixes of a node written by its consensus index (English "node ",
  "nodes ").

Terms follow FISCO BCOS's own Chinese documentation (FISCO-BCOS-DOC, design/consensus):
共识节点, 区块, 视图, 视图切换, 快速视图切换, 空块, 落盘, 提案, 签名, 区块同步, 交易池; the
message names (PrePrepare, Prepare, Commit, CheckPoint, ViewChange, NewView, ...), "leader"
and "Quorum" (``minRequiredQuorum``) stay in English as those documents write them. Every
sentence carries the English one's numbers, hashes and labels in the same order (tests/
test_narrate_zh.py checks it), so a Chinese narration lines up with an English one.

>>> from fiscosim.consensus.events import QuorumReached
>>> from fiscosim.trace.narrate import Narrator
>>> Narrator(0, lang="zh")(QuorumReached("prepare", 1, 0, 3, 3, (0, 1, 3), bytes(32)))
'区块 1 在视图 0 中达到 Prepare Quorum（权重 3/3：节点 0,1,3）：发送 Commit'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from fiscosim.consensus import events as ev
from fiscosim.trace.events import short_hash as short


class Narrator(Protocol):
    """What a sentence needs of :class:`fiscosim.trace.narrate.Narrator` (which imports this
    module, so this one does not import it): the node it speaks for and how it names nodes."""

    me: int

    def who(self, index: int, prefix: str | None = None) -> str: ...

    def whos(self, indexes: Iterable[int], prefix: str | None = None) -> str: ...


_PEER_MESSAGES = frozenset(
    {"ViewChange", "NewView", "RecoverRequest", "RecoverResponse", "CommittedProposalRequest"})
"""Messages whose sender must be another consensus node (``narrate._PEER_MESSAGES``, which
tests/test_narrate_zh.py checks this copy against)."""

LABEL = "共识节点 {i} ({name})"
"""A sealer's label: consensus index ``i`` and the scenario's ``name`` ("sealer {i} ({name})")."""

NODE = "节点 "
"""A node written by its consensus index, without labels ("node 3" → "节点 3")."""

NODES = "节点 "
"""Several nodes by consensus index ("nodes 0,1,2" → "节点 0,1,2")."""


# -- the normal case ----------------------------------------------------------------------------


def _window(e: Any) -> str:
    return f"窗口现为 [{e.index + 1}, {e.high_water_mark})"


_PHASES = {"prepare": "Prepare", "commit": "Commit"}


def _quorum(n: Narrator, e: ev.QuorumReached) -> str:
    then = "发送 Commit" if e.phase == "prepare" else "已由共识提交"
    return (f"区块 {e.index} 在视图 {e.view} 中达到 {_PHASES.get(e.phase, e.phase)} Quorum"
            f"（权重 {e.weight}/{e.quorum}：{n.whos(e.voters)}）：{then}")


def _verified(n: Narrator, e: ev.ProposalVerified) -> str:
    if e.to_view is not None:
        return (f"提案 {short(e.hash)}（区块 {e.index}）验证通过；不发送 Prepare：正在视图切换到"
                f"视图 {e.to_view}")
    if e.executed:
        return (f"提案 {short(e.hash)}（区块 {e.index}）验证通过并已执行：发送 Prepare"
                "（即 FISCO 2.x 的 SignReq）")
    return f"提案 {short(e.hash)}（区块 {e.index}）验证通过：发送 Prepare"


def _rejected(n: Narrator, e: ev.ProposalRejected) -> str:
    if e.fetched:
        return f"拉取到的已提交提案 {short(e.hash)}（区块 {e.index}）验证失败"
    return f"提案 {short(e.hash)}（区块 {e.index}）验证失败；等待视图切换"


def _stable(n: Narrator, e: ev.StableCheckpoint) -> str:
    waiting = "：等待更早的区块落盘" if e.waiting else ""
    return (f"区块 {e.index} 达到稳定检查点（权重 {e.weight}/{e.quorum}："
            f"{n.whos(e.voters)}）{waiting}")


# -- timers -------------------------------------------------------------------------------------

_TIMER_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"proposal (\d+) in flight"), r"区块 \1 的提案进行中"),
    (re.compile(r"transactions are pending"), "有交易等待打包"),
    (re.compile(r"progress"), "共识有进展"),
    (re.compile(r"view change to view (\d+)"), r"视图切换到视图 \1"),
)
"""The core's reasons for starting the view timer (``PbftCore._arm``), in Chinese."""


def _timer_why(why: str) -> str:
    """The Chinese of a view timer's reason; an unknown one as the core wrote it."""
    for pattern, text in _TIMER_REASONS:
        if pattern.fullmatch(why):
            return pattern.sub(text, why)
    return why


def _timer_set(n: Narrator, e: ev.TimerSet) -> str:
    why = f"（{_timer_why(e.why)}）" if e.why else ""
    return f"视图定时器设为 {e.delay_us} µs{why}"


def _timeout(n: Narrator, e: ev.Timeout) -> str:
    stuck = (f"到视图 {e.to_view - 1} 的视图切换未完成" if e.in_view_change
             else f"区块 {e.index} 未提交")
    return f"视图 {e.view} 中视图定时器超时（{stuck}）：需要视图切换到视图 {e.to_view}"


# -- view change --------------------------------------------------------------------------------

_VIEW_CHANGE_REASONS = {"timeout": "超时", "empty_block": "空块",
                        "leader_unreachable": "leader 不可达",
                        "fast_view_change": "快速视图切换"}
"""Why this node starts a view change (``PbftCore._start_view_change``), in Chinese."""


def _view_change_sent(n: Narrator, e: ev.ViewChangeSent) -> str:
    reason = _VIEW_CHANGE_REASONS.get(e.reason, e.reason)
    return (f"{n.who(n.me)} 请求从视图 {e.view} 切换到视图 {e.to_view}（{reason}）：已提交至区块 "
            f"{e.index - 1}，达到 Prepare Quorum 的区块 {list(e.prepared)}")


def _new_view_sent(n: Narrator, e: ev.NewViewSent) -> str:
    empty = f"（其中空提案：{','.join(map(str, e.empty))}）" if e.empty else ""
    return f"{n.who(n.me)} 开始视图 {e.to_view}：重新提案 {list(e.reproposed)}{empty}"


def _reproposal(n: Narrator, e: ev.Reproposal) -> str:
    if e.held:
        return f"区块 {e.index} 在视图 {e.view} 中被重新提案：本节点已持有该提案（{short(e.hash)}）"
    return f"区块 {e.index} 在视图 {e.view} 中被重新提案" + (
        "（空提案：没有需要验证的交易）" if not e.txs else
        f"（{e.txs} 笔交易，哈希 {short(e.hash)}）：验证中")


def _unsealed(n: Narrator, e: ev.Unsealed) -> str:
    why = {"late_verdict": "视图切换放弃该提案之后，其验证才完成",
           "committed_elsewhere": f"区块 {e.index} 已以另一个提案提交",
           "not_reproposed": f"视图 {e.view} 没有重新提案它"}[e.cause]
    return (f"提案 {short(e.hash)}（区块 {e.index}）被放弃（{why}）：其 {e.txs} 笔交易"
            "重新变为待打包")


def _deferred(n: Narrator, e: ev.Deferred) -> str:
    kept = "暂存，待本节点进入该视图后处理" if e.message == "PrePrepare" else "计入该视图"
    return (f"区块 {e.index} 的 {e.message}（来自 {n.who(e.sender)}）处于视图 {e.message_view}，"
            f"本节点处于视图 {e.view}：{kept}")


# -- the committed-proposal fetch ---------------------------------------------------------------


def _requested(n: Narrator, e: ev.CommittedProposalRequested) -> str:
    why = {"resent": "重新广播", "view_change": "处于视图切换中",
           "not_precommitted": f"> f = {e.max_faulty}，本节点未 precommit"}[e.cause]
    return (f"权重 {e.weight} 的区块 {e.index} CheckPoint（{why}）：向 {n.whos(e.dests)} "
            "请求该区块的已提交提案")


# -- messages left aside ------------------------------------------------------------------------


def _proof_flaw(reason: str, detail: tuple) -> str:
    """Why a ViewChange's prepared proof is invalid (``PbftCore._bad_proofs``)."""
    if reason == "malformed_proof":
        index, view, proposal_index, to_view = detail
        return (f"区块 {index} 的证明（视图 {view}，提案属于区块 {proposal_index}）与切换到"
                f"视图 {to_view} 的 ViewChange 不符")
    if reason == "bad_voters":
        return f"区块 {detail[0]} 的证明列出的投票者 {detail[1]} 无效"
    index, weight, quorum = detail
    return f"区块 {index} 的证明中 Prepare 权重 {weight} < Q = {quorum}"


def _new_view_flaw(n: Narrator, e: ev.Ignored) -> str:
    """Why a NewView is invalid (``PbftCore._bad_new_view``)."""
    d = e.detail
    if e.reason == "bad_view_changes":
        if d[0] == "view":
            return f"其中有一个切换到视图 {d[1]} 的 ViewChange"
        if d[0] == "twice":
            return f"其中来自 {n.who(d[1])} 的 ViewChange 出现了两次"
        if d[0] == "sender":
            return f"其中有一个 ViewChange 来自 {d[1]}，它不是共识节点的序号"
        return f"来自 {n.who(d[1])} 的 ViewChange：{_proof_flaw(d[2], d[3])}"
    if e.reason == "no_quorum":
        return f"其 ViewChange 总权重 {d[0]} < Q = {d[1]}"
    if e.reason == "wrong_leader":
        return f"视图 {e.to_view} 的 leader 是 {n.who(d[0])}"
    return f"它重新提案 {list(d[0])}，而其 ViewChange 给出的是 {list(d[1])}（或其他提案）"


def _commit_proof_flaw(d: tuple) -> str:
    """Why a committed proposal's Commit proof is invalid (``PbftCore._bad_commit_proof``)."""
    if d[0] == "block":
        return f"其证明针对区块 {d[1]}（提案属于区块 {d[2]}）"
    if d[0] == "voters":
        return f"其证明列出的投票者 {d[1]} 无效"
    return f"其证明中 Commit 权重 {d[1]} < Q = {d[2]}"


def _view_change_ignored(n: Narrator, e: ev.Ignored) -> str:
    head = f"切换到视图 {e.to_view} 的 ViewChange（来自 {n.who(e.sender)}）"
    reason, d = e.reason, e.detail
    if reason == "stale_committed":
        return f"{head}的已提交块高 {e.index} 低于本节点（{d[0]}）"
    if reason == "stale_view":
        return f"{head}：本节点已处于视图 {e.view}"
    if reason == "far_future_view":
        return f"{head}超前超过 {d[0]} 个视图"
    if reason == "conflicting_committed_hash":
        return (f"来自 {n.who(e.sender)} 的 ViewChange 提交的区块 {e.index} 哈希为 "
                f"{short(d[0])}，本节点的为 {short(d[1])}")
    if reason == "duplicate":
        return f"{head}：本节点已持有"
    return f"{head}：{_proof_flaw(reason, d)}"


def _new_view_ignored(n: Narrator, e: ev.Ignored) -> str:
    if e.reason == "conflicting":  # a re-proposal against a block committed by consensus here
        return (f"NewView 重新提案 {short(e.detail[0])}（区块 {e.index}），但该区块已由共识以 "
                f"{short(e.detail[1])} 提交")
    head = f"视图 {e.to_view} 的 NewView（来自 {n.who(e.sender)}）"
    if e.reason == "stale_view":
        return f"{head}：本节点已处于视图 {e.view}"
    if e.reason == "far_future_view":
        return f"{head}超前超过 {e.detail[0]} 个视图"
    return f"{head}：{_new_view_flaw(n, e)}"


def _pre_prepare_ignored(n: Narrator, e: ev.Ignored) -> str | None:
    """The PrePrepare-only reasons; None for those every vote shares."""
    if e.reason == "malformed":
        return f"区块 {e.index} 的 PrePrepare 携带的是区块 {e.detail[0]}"
    if e.reason == "wrong_leader":
        return (f"区块 {e.index} 的 PrePrepare 来自 {n.who(e.sender)}，但视图 {e.view} 的 "
                f"leader 是 {n.who(e.leader)}")
    if e.reason == "conflicting":
        return (f"区块 {e.index} 在视图 {e.view} 中的第二个 PrePrepare 哈希不同"
                f"（{short(e.hash)}，本节点持有 {short(e.detail[0])}）")
    if e.reason == "duplicate" and e.detail:
        return f"本节点已持有区块 {e.index} 在视图 {e.detail[0]} 中的 PrePrepare"
    if e.reason == "duplicate" and e.sender is None:
        return f"区块 {e.index} 的 PrePrepare 已收到过"
    return None


def _vote_ignored(n: Narrator, e: ev.Ignored) -> str:
    """PrePrepare, Prepare, Commit, CheckPoint and CommittedProposalResponse: the checks of
    their block index, sender and view."""
    head = f"区块 {e.index} 的 {e.message}（来自 {n.who(e.sender)}）"
    reason, d = e.reason, e.detail
    if reason == "stale":
        return f"{head}：本节点已{'执行' if d[1] else '提交'}至区块 {d[0]}"
    if reason == "out_of_window":
        return f"{head}超出窗口（须 < {d[0]}）"
    if reason == "unknown_sender":
        return f"{head}，发送者不是共识节点"
    if reason == "duplicate":
        return f"{head}：本节点已有该提案" if e.message == "CommittedProposalResponse" else (
            f"{head}已计入")
    if reason == "unexpected":
        return f"{head}：本节点并未请求"
    if reason == "bad_proof":
        return f"{head}：{_commit_proof_flaw(d)}"
    moving = f"，正切换到视图 {d[0]}" if reason == "in_view_change" else ""
    return f"{head}处于视图 {e.message_view}，本节点处于视图 {e.view}{moving}"


def _report_ignored(n: Narrator, e: ev.Ignored) -> str | None:
    """Reports from the runtime (a verdict, an execution, a commit, a timer, a leader check)
    and unknown messages."""
    d = e.detail
    if e.message == "verification":
        return f"没有等待验证的提案 {short(d[0])}（区块 {e.index}）"
    if e.message == "execution":
        return f"区块 {e.index} 不是正在执行的区块（{d[0]}）"
    if e.message == "ledger commit":
        return f"区块 {e.index} 不是正在落盘的区块（{d[0]}）"
    if e.message == "timer":
        return f"定时器 {d[0]!r} 未在本共识核心中启动"
    if e.message == "leader check":
        return f"{n.who(n.me)} 自己就是被报告为不可达的 leader"
    if e.reason == "unknown_message":
        return f"{e.message} 不是本共识核心处理的 PBFT 消息"
    return None


def _peer_ignored(n: Narrator, e: ev.Ignored) -> str:
    """RecoverRequest, RecoverResponse, CommittedProposalRequest; any peer's unknown sender."""
    if e.reason == "unknown_sender":
        return f"来自 {n.who(e.sender)} 的 {e.message}，发送者不是其他共识节点"
    if e.reason == "stale_view":
        return (f"来自 {n.who(e.sender)} 的 RecoverResponse 报告视图 {e.to_view}；本节点处于"
                f"视图 {e.view}")
    if e.reason == "duplicate":
        return f"来自 {n.who(e.sender)} 的 RecoverResponse 已计入"
    return (f"{n.who(e.sender)} 请求区块 {e.index} 的已提交提案：本节点没有达到 Commit Quorum "
            "的该提案"
            + ("（该区块已在本节点账本中：由区块同步提供）" if e.detail[0] else ""))


def _ignored(n: Narrator, e: ev.Ignored) -> str:
    text = _report_ignored(n, e)
    if text is None:
        if e.message in _PEER_MESSAGES and (
                e.reason == "unknown_sender" or e.message not in ("ViewChange", "NewView")):
            text = _peer_ignored(n, e)
        elif e.message == "ViewChange":
            text = _view_change_ignored(n, e)
        elif e.message == "NewView":
            text = _new_view_ignored(n, e)
        else:
            text = (_pre_prepare_ignored(n, e) if e.message == "PrePrepare" else None) or (
                _vote_ignored(n, e))
    return f"已忽略：{text}"


def _refused(n: Narrator, e: ev.ProposalRefused) -> str:
    d = e.detail
    text = {
        "in_view_change": lambda: (f"区块 {e.index}：正在进行视图切换或恢复（视图 {e.view}，"
                                   f"目标视图 {d[0]}）"),
        "not_leader": lambda: f"本节点不是区块 {e.index} 在视图 {e.view} 中的 leader",
        "stale": lambda: f"区块 {e.index} 已执行（已执行至区块 {d[0]}）",
        "out_of_window": lambda: f"区块 {e.index} 超出高水位线 {d[0]}",
    }[e.reason]()
    return f"已忽略：{text}"


TEXTS: dict[type, Callable[[Narrator, Any], str]] = {
    # the normal case
    ev.SealNotified: lambda n, e: (
        f"{n.who(n.me)} 负责区块 {e.index}..{e.end}（视图 {e.view}）：已通知 Sealer 打包"),
    ev.WindowFull: lambda n, e: (
        f"轮到本节点打包区块 {e.index}，但流水线已满（高水位线 {e.high_water_mark}）："
        "等待区块落盘"),
    ev.ProposalSent: lambda n, e: (
        f"{n.who(e.leader)} 提出区块 {e.index} 的提案（视图 {e.view}，{e.txs} 笔交易，哈希 "
        f"{short(e.hash)}）"),
    ev.ProposalReceived: lambda n, e: (
        f"收到区块 {e.index} 的 PrePrepare（来自 leader {n.who(e.leader, '')}，视图 {e.view}，"
        f"{e.txs} 笔交易，哈希 {short(e.hash)}）：验证中"),
    ev.ProposalVerified: _verified,
    ev.ProposalRejected: _rejected,
    ev.QuorumReached: _quorum,
    ev.Executing: lambda n, e: f"执行区块 {e.index}（{e.txs} 笔交易）",
    ev.CheckPointSent: lambda n, e: (
        f"区块 {e.index} 已执行（哈希 {short(e.executed_hash)}）：发送 CheckPoint"),
    ev.CheckpointMismatch: lambda n, e: (
        f"权重 {e.weight} 的 CheckPoint 一致认可执行后哈希 {short(e.executed_hash)}（区块 "
        f"{e.index}），但本节点的执行结果为 {short(e.ours)}"),
    ev.StableCheckpoint: _stable,
    ev.LedgerCommit: lambda n, e: f"区块 {e.index} 落盘，附 {len(e.signers)} 个签名",
    ev.Committed: lambda n, e: f"区块 {e.index} 已落盘；{_window(e)}",
    # timers
    ev.TimerSet: _timer_set,
    ev.TimerCancelled: lambda n, e: "视图定时器已取消：没有进行中的提案",
    ev.TimeoutExtended: lambda n, e: (
        f"视图定时器超时，但区块 {e.busy} 正在执行或落盘：重新计时 {e.delay_us} µs"),
    ev.Timeout: _timeout,
    ev.CheckpointResent: lambda n, e: (
        f"区块 {e.index} 在 {e.after_us} µs 后仍无稳定检查点（权重 {e.weight}/{e.quorum}）："
        "再次发送本节点的 CheckPoint"),
    # view change
    ev.ViewChangeSent: _view_change_sent,
    ev.ViewChangeResent: lambda n, e: (
        f"{n.who(n.me)} 再次请求切换到视图 {e.to_view}，现已提交至区块 {e.index - 1}"),
    ev.ViewChangeReceived: lambda n, e: (
        f"收到切换到视图 {e.to_view} 的 ViewChange（来自 {n.who(e.sender)}，已提交至区块 "
        f"{e.index}，{len(e.prepared)} 个区块达到 Prepare Quorum）：已累计权重 "
        f"{e.weight}/{e.quorum}（切换到视图 {e.to_view}）"),
    ev.FastViewChange: lambda n, e: (
        f"权重 {e.weight} ≥ f + 1 = {e.threshold} 的 ViewChange 请求切换到视图 {e.to_view}："
        "立即加入（快速视图切换）"),
    ev.LeaderUnreachable: lambda n, e: (
        f"leader {n.who(e.leader, '')} 不可达：立即视图切换到视图 {e.to_view}"),
    ev.EmptyBlock: lambda n, e: (
        f"{n.who(e.leader, '')} 的区块 {e.index} 是空块：FISCO 2.x 不对空块投票，所有节点切换到"
        f"视图 {e.to_view}，由下一个 leader 打包"),
    ev.ViewChangeQuorum: lambda n, e: (
        f"切换到视图 {e.to_view} 的 ViewChange 权重达到 {e.weight}/{e.quorum}"
        f"（{n.whos(e.voters)}）：{n.who(e.leader)} 成为视图 {e.to_view} 的 leader"),
    ev.NewViewSent: _new_view_sent,
    ev.NewViewAccepted: lambda n, e: (
        f"接受视图 {e.to_view} 的 NewView（来自 {n.who(e.sender)}，含 {e.view_changes} 个 "
        f"ViewChange，重新提案 {list(e.reproposed)}）"),
    ev.Reproposal: _reproposal,
    ev.Unsealed: _unsealed,
    ev.Deferred: _deferred,
    # recovery and block sync
    ev.RecoverSent: lambda n, e: (
        f"{n.who(n.me)}（视图 {e.view}，已提交至区块 {e.index - 1}）向其他节点询问其视图"),
    ev.RecoverResponseSent: lambda n, e: (
        f"告知 {n.who(e.dest)}：本节点处于视图 {e.view}（已提交至区块 {e.index - 1}）"),
    ev.Recovered: lambda n, e: (
        f"权重 ≥ {e.quorum} 的节点处于视图 {e.view}：{n.who(n.me)} 在视图 {e.view} 中继续"),
    ev.Synced: lambda n, e: f"区块同步将账本推进到区块 {e.index}；{_window(e)}",
    # the committed-proposal fetch
    ev.CommittedProposalRequested: _requested,
    ev.CommittedProposalSent: lambda n, e: (
        f"将区块 {e.index} 的已提交提案（{short(e.hash)}，视图 {e.commit_view} 的 Commit Quorum）"
        f"发送给 {n.who(e.dest)}"),
    ev.CommittedProposalReceived: lambda n, e: (
        f"收到区块 {e.index} 的已提交提案（{short(e.hash)}，Commit Quorum "
        f"{n.whos(e.voters, '')}，视图 {e.proof_view}），来自 {n.who(e.sender)}：验证中"),
    ev.CommittedProposalAccepted: lambda n, e: (
        f"区块 {e.index} 的已提交提案 {short(e.hash)} 已补全交易：已由共识提交"),
    # messages and reports left aside
    ev.Ignored: _ignored,
    ev.ProposalRefused: _refused,
}
"""Each event type's sentence in Chinese (the keys of ``narrate._TEXTS``)."""


WORDS: dict[str, str] = {
    "sealers": "共识节点 ", "blk": "区块", "from": "来自", "forged": "伪造的 ",
    "dropped": "{msg}（来自 {src}）被丢弃：{why}",
    "timer_fired": "{name} 定时器超时", "timer_set": "{name} 定时器已设置",
    "timer_cancel": "{name} 定时器已取消", "due": "到期",
    "exec_start": "执行区块 {blk}（{txs} 笔交易）",
    "exec_end": "区块 {blk} 执行完毕",
    "ledger": "区块 {blk} 落盘（执行后哈希 {hash}，{sigs} 个 CheckPoint 签名，{txs} 笔交易）",
    "seal": "打包区块 {blk}，含 {txs} 笔交易",
    "state": "{up}进入视图 {view}，等待 {leader}；已提交 {committed}，已执行 {executed}",
    "state_moving": "{up}视图 {view}，正切换到视图 {to_view}，等待 {leader}；已提交 "
                    "{committed}，已执行 {executed}",
    "view": "视图", "until_at": "，至 {t}",
    "down": "已宕机；", "crash": "宕机", "restart": "重启",
    "fault": "故障：{text}", "check_ok": "{prop} 成立", "check_bad": "{prop} 被违反：{detail}",
    "question": "问题", "answer": "解答",
}
"""The trace's other records in Chinese (the keys and placeholders of
``narration._WORDS["en"]``)."""


__all__ = ["LABEL", "NODE", "NODES", "TEXTS", "WORDS"]
