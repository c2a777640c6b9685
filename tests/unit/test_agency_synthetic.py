"""The gateway's synthetic data is deterministic and plausible."""

from __future__ import annotations

from services.agency_gateway.synthetic import division_of, synthetic_assets
from tools.demo import credit_code
from zhixing.assets import CHANNELS, KINDS_OF_CHANNEL, AssetKind


def test_the_same_seed_debtor_and_channel_give_the_same_assets() -> None:
    debtor = credit_code(5)
    for channel in CHANNELS:
        first = synthetic_assets(7, debtor, channel)
        assert first == synthetic_assets(7, debtor, channel)
        for asset in first:
            assert AssetKind(asset.kind) in KINDS_OF_CHANNEL[channel]
            assert asset.value_fen > 0 and asset.holder_id == debtor
            assert asset.location_division == division_of(debtor) == "321283"


def test_other_seeds_give_other_assets() -> None:
    debtors = [credit_code(n) for n in range(1, 40)]
    keys = {
        seed: {a.asset_key for d in debtors for c in CHANNELS for a in synthetic_assets(seed, d, c)}
        for seed in (1, 2)
    }
    assert keys[1] and keys[2] and not keys[1] & keys[2]
