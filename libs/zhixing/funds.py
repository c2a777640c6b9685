"""The vocabulary of case funds (执行案款) that the funds service and the command centre share:
where money came from, how it may be held back, and the legal reasons to hold it.

The legal reasons follow ¶22 (有法定事由延缓发放或者提存) as listed by 最高人民法院关于执行款物
管理工作的规定 (法发〔2017〕6号) arts 14–15. The value is the code a request gives; the labels
are the words shown.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "HOLD_KIND_LABELS",
    "HOLD_REASON_LABELS",
    "REASONS_OF_KIND",
    "SOURCE_LABELS",
    "HoldKind",
    "HoldReason",
    "Source",
]


class Source(StrEnum):
    PAYMENT = "payment"  # the debtor paid into the case's account
    DEDUCTION = "deduction"  # 扣划 of frozen money
    SALE = "sale"  # 拍卖、变卖 proceeds
    SELF_DISPOSAL = "self_disposal"  # the debtor sold it himself (¶17)
    RELEASE = "release"  # a held part payable again (not new money)


SOURCE_LABELS = {
    Source.PAYMENT: "被执行人交款",
    Source.DEDUCTION: "扣划",
    Source.SALE: "拍卖、变卖价款",
    Source.SELF_DISPOSAL: "被执行人自行处置价款",
    Source.RELEASE: "暂缓部分恢复发放",
}


class HoldKind(StrEnum):
    DEFER = "defer"  # 延缓发放
    LODGE = "lodge"  # 提存


HOLD_KIND_LABELS = {HoldKind.DEFER: "延缓发放", HoldKind.LODGE: "提存"}


class HoldReason(StrEnum):
    # 延缓发放
    DISPUTED = "disputed"
    DISTRIBUTION = "distribution"
    APPLICANT_FUNDS_RESTRAINED = "applicant_funds_restrained"
    NOT_COLLECTED = "not_collected"
    ENFORCEMENT_SUSPENDED = "enforcement_suspended"
    # 提存
    REFUSED_BY_APPLICANT = "refused_by_applicant"
    APPLICANT_MISSING = "applicant_missing"
    SUCCESSOR_UNDETERMINED = "successor_undetermined"
    CANNOT_NOTIFY = "cannot_notify"


HOLD_REASON_LABELS = {
    HoldReason.DISPUTED: "部分案款有争议",
    HoldReason.DISTRIBUTION: "需要进行案款分配",
    HoldReason.APPLICANT_FUNDS_RESTRAINED: "申请执行人的执行款被另案保全或冻结",
    HoldReason.NOT_COLLECTED: "申请执行人经通知未领取",
    HoldReason.ENFORCEMENT_SUSPENDED: "案件被依法中止或者暂缓执行",
    HoldReason.REFUSED_BY_APPLICANT: "申请执行人无正当理由拒绝领取",
    HoldReason.APPLICANT_MISSING: "申请执行人下落不明",
    HoldReason.SUCCESSOR_UNDETERMINED: "申请执行人死亡未确定继承人或丧失民事行为能力未确定监护人",
    HoldReason.CANNOT_NOTIFY: "按申请执行人提供的联系方式无法通知其领取",
}

REASONS_OF_KIND = {
    HoldKind.DEFER: frozenset(
        {
            HoldReason.DISPUTED,
            HoldReason.DISTRIBUTION,
            HoldReason.APPLICANT_FUNDS_RESTRAINED,
            HoldReason.NOT_COLLECTED,
            HoldReason.ENFORCEMENT_SUSPENDED,
        }
    ),
    HoldKind.LODGE: frozenset(
        {
            HoldReason.REFUSED_BY_APPLICANT,
            HoldReason.APPLICANT_MISSING,
            HoldReason.SUCCESSOR_UNDETERMINED,
            HoldReason.CANNOT_NOTIFY,
        }
    ),
}
