"""Deterministic synthetic assets: the same seed, debtor and channel always give the same
assets, so tests and demos can predict what a query will find."""

from __future__ import annotations

import hashlib
import random

from stdnum.cn import ric

from zhixing.assets import KINDS_OF_CHANNEL, AssetKind, Channel
from zhixing.v1 import agency_gateway_pb2 as pb

# Chance of 0, 1 or 2 assets on a channel (weights), and the range of values (as powers of
# ten of fen) per kind: 10**6 fen = 10,000 yuan.
COUNT_WEIGHTS = (50, 35, 15)
VALUE_EXPONENTS = {
    AssetKind.BANK_DEPOSIT: (4.0, 8.0),
    AssetKind.WEALTH_PRODUCT: (6.0, 8.5),
    AssetKind.ONLINE_PAYMENT: (3.0, 6.5),
    AssetKind.HOUSING_FUND: (5.0, 7.0),
    AssetKind.REAL_ESTATE: (8.0, 9.7),
    AssetKind.VEHICLE: (6.5, 8.0),
    AssetKind.SECURITIES: (5.0, 8.5),
    AssetKind.EQUITY: (6.0, 9.0),
    AssetKind.INSURANCE: (5.0, 7.0),
}
DESCRIPTIONS = {
    AssetKind.BANK_DEPOSIT: "银行存款",
    AssetKind.WEALTH_PRODUCT: "理财产品",
    AssetKind.ONLINE_PAYMENT: "网络支付账户余额",
    AssetKind.HOUSING_FUND: "住房公积金",
    AssetKind.REAL_ESTATE: "房屋",
    AssetKind.VEHICLE: "机动车",
    AssetKind.SECURITIES: "证券账户",
    AssetKind.EQUITY: "公司股权",
    AssetKind.INSURANCE: "保险单现金价值",
}


def _online(kind: AssetKind, rng: random.Random) -> bool:
    if kind in (AssetKind.REAL_ESTATE,):
        return rng.random() < 0.7  # online seizure where the registry is connected
    if kind in (AssetKind.EQUITY,):
        return rng.random() < 0.5
    return kind is not AssetKind.INSURANCE


def division_of(id_number: str) -> str:
    """The administrative division a resident ID (digits 1–6) or a credit code (3–8) names."""
    return id_number[:6] if ric.is_valid(id_number) else id_number[2:8]


def synthetic_assets(seed: int, debtor_id: str, channel: Channel) -> list[pb.AgencyAsset]:
    rng = random.Random(f"{seed}|assets|{debtor_id}|{channel.value}")
    count = rng.choices(range(len(COUNT_WEIGHTS)), weights=COUNT_WEIGHTS)[0]
    assets = []
    for index in range(count):
        kind = rng.choice(KINDS_OF_CHANNEL[channel])
        low, high = VALUE_EXPONENTS[kind]
        value = int(10 ** rng.uniform(low, high))
        digest = hashlib.sha256(f"{seed}|{debtor_id}|{channel.value}|{index}".encode())
        assets.append(
            pb.AgencyAsset(
                asset_key=f"{channel.value}:{digest.hexdigest()[:16]}",
                kind=kind.value,
                description=f"{DESCRIPTIONS[kind]}（{digest.hexdigest()[16:22]}）",
                holder_id=debtor_id,
                value_fen=value,
                online_control=_online(kind, rng),
                location_division=division_of(debtor_id),
            )
        )
    return assets
