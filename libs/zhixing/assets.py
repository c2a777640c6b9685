"""What the platform knows about kinds of assets: the query channels of the network query
system (网络查控), which kinds are money, which term of control applies to each, and the
disposal methods. Shared by asset control and the agency gateway stand-in."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CHANNELS",
    "CHANNEL_NAMES",
    "KINDS_OF_CHANNEL",
    "LIQUID_KINDS",
    "TERM_CLASS",
    "AssetKind",
    "Channel",
    "Measure",
    "PriceMethod",
    "SaleMode",
    "TermClass",
    "measure_for",
    "measures_for",
]


class Channel(StrEnum):
    """The channels of 总对总/点对点 network query, each one outside system."""

    BANK = "bank"  # 银行存款、理财产品
    REAL_ESTATE = "real_estate"  # 不动产
    VEHICLE = "vehicle"  # 车辆
    SECURITIES = "securities"  # 证券
    EQUITY = "equity"  # 股权
    INSURANCE = "insurance"  # 保险
    ONLINE_PAYMENT = "online_payment"  # 网络支付账户
    HOUSING_FUND = "housing_fund"  # 住房公积金


CHANNELS: tuple[Channel, ...] = tuple(Channel)

CHANNEL_NAMES = {
    Channel.BANK: "银行存款及理财产品",
    Channel.REAL_ESTATE: "不动产",
    Channel.VEHICLE: "车辆",
    Channel.SECURITIES: "证券",
    Channel.EQUITY: "股权",
    Channel.INSURANCE: "保险",
    Channel.ONLINE_PAYMENT: "网络支付账户",
    Channel.HOUSING_FUND: "住房公积金",
}


class AssetKind(StrEnum):
    BANK_DEPOSIT = "bank_deposit"
    WEALTH_PRODUCT = "wealth_product"
    REAL_ESTATE = "real_estate"
    VEHICLE = "vehicle"
    SECURITIES = "securities"
    EQUITY = "equity"
    INSURANCE = "insurance"
    ONLINE_PAYMENT = "online_payment"
    HOUSING_FUND = "housing_fund"


class TermClass(StrEnum):
    """The maximum control term that applies (民诉解释 art 485; the limits are in the rule
    catalogue, asset.control-term-*)."""

    DEPOSIT = "deposit"  # 冻结银行存款: money
    MOVABLE = "movable"  # 查封、扣押动产
    REAL_ESTATE = "real_estate"  # 查封不动产、冻结其他财产权


# Money is frozen for an exact amount and deducted, never priced and sold.
LIQUID_KINDS = frozenset(
    {
        AssetKind.BANK_DEPOSIT,
        AssetKind.WEALTH_PRODUCT,
        AssetKind.ONLINE_PAYMENT,
        AssetKind.HOUSING_FUND,
    }
)

TERM_CLASS = {
    AssetKind.BANK_DEPOSIT: TermClass.DEPOSIT,
    AssetKind.WEALTH_PRODUCT: TermClass.DEPOSIT,
    AssetKind.ONLINE_PAYMENT: TermClass.DEPOSIT,
    AssetKind.HOUSING_FUND: TermClass.DEPOSIT,
    AssetKind.VEHICLE: TermClass.MOVABLE,
    AssetKind.REAL_ESTATE: TermClass.REAL_ESTATE,
    AssetKind.SECURITIES: TermClass.REAL_ESTATE,
    AssetKind.EQUITY: TermClass.REAL_ESTATE,
    AssetKind.INSURANCE: TermClass.REAL_ESTATE,
}

KINDS_OF_CHANNEL = {
    Channel.BANK: (AssetKind.BANK_DEPOSIT, AssetKind.WEALTH_PRODUCT),
    Channel.REAL_ESTATE: (AssetKind.REAL_ESTATE,),
    Channel.VEHICLE: (AssetKind.VEHICLE,),
    Channel.SECURITIES: (AssetKind.SECURITIES,),
    Channel.EQUITY: (AssetKind.EQUITY,),
    Channel.INSURANCE: (AssetKind.INSURANCE,),
    Channel.ONLINE_PAYMENT: (AssetKind.ONLINE_PAYMENT,),
    Channel.HOUSING_FUND: (AssetKind.HOUSING_FUND,),
}


class Measure(StrEnum):
    FREEZE = "freeze"  # 冻结: money and property rights
    SEIZE = "seize"  # 查封: real estate, registered movables
    DETAIN = "detain"  # 扣押: movables


def measures_for(kind: AssetKind) -> tuple[Measure, ...]:
    """The measures that fit a kind of asset, the usual one first: money and property
    rights are frozen; real estate is seized; a vehicle is seized in the registry or
    detained (扣押, taken physically, offline)."""
    if kind in LIQUID_KINDS or kind in (
        AssetKind.SECURITIES,
        AssetKind.EQUITY,
        AssetKind.INSURANCE,
    ):
        return (Measure.FREEZE,)
    if kind is AssetKind.VEHICLE:
        return (Measure.SEIZE, Measure.DETAIN)
    return (Measure.SEIZE,)


def measure_for(kind: AssetKind) -> Measure:
    return measures_for(kind)[0]


class PriceMethod(StrEnum):
    """Ways to fix the disposal reference price, in the order ¶16 prefers them."""

    NEGOTIATION = "议价"
    ONLINE_INQUIRY = "网络询价"
    DIRECTED_INQUIRY = "定向询价"
    APPRAISAL = "委托评估"


class SaleMode(StrEnum):
    ONLINE_AUCTION = "online_auction"  # 网络司法拍卖: first (¶18)
    OFFLINE_AUCTION = "offline_auction"  # 线下拍卖: only with a reason
    SALE_BY_AGREEMENT = "sale_by_agreement"  # 变卖: only with a reason
