"""The audit Merkle tree follows RFC 6962: roots, inclusion and consistency proofs."""

import pytest

from zhixing.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# The leaves of Certificate Transparency's reference tests, and their published roots.
CT_LEAVES = [bytes.fromhex(h) for h in
             ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"record {i}".encode()) for i in range(n)]


def test_roots_match_the_reference_vectors() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    hashed = [leaf_hash(leaf) for leaf in CT_LEAVES]
    for size, expected in CT_ROOTS.items():
        assert root_of(hashed[:size]).hex() == expected


def test_the_frontier_knows_the_root_at_every_size() -> None:
    frontier = Frontier()
    all_leaves = leaves(70)
    assert frontier.root() == EMPTY_ROOT
    for size, leaf in enumerate(all_leaves, start=1):
        frontier.append(leaf)
        assert frontier.root() == root_of(all_leaves[:size])
        assert len(frontier.nodes) == bin(size).count("1")


def test_every_leaf_is_proven_in_every_tree_and_a_wrong_claim_is_not() -> None:
    for size in range(1, 34):
        tree = leaves(size)
        root = root_of(tree)
        for index in range(size):
            proof = inclusion_proof(index, tree)
            assert verify_inclusion(tree[index], index, size, proof, root)
            assert not verify_inclusion(leaf_hash(b"forged"), index, size, proof, root)
            if size > 1:
                assert not verify_inclusion(tree[index], (index + 1) % size, size, proof, root)
        assert not verify_inclusion(tree[0], size, size, [], root)


def test_every_tree_is_proven_to_extend_every_earlier_one() -> None:
    tree = leaves(33)
    for new in range(1, 34):
        for old in range(1, new + 1):
            proof = consistency_proof(old, tree[:new])
            old_root, new_root = root_of(tree[:old]), root_of(tree[:new])
            assert verify_consistency(old, new, old_root, new_root, proof)
            if old < new:
                rewritten = [*tree[: old - 1], leaf_hash(b"rewritten"), *tree[old:new]]
                assert not verify_consistency(old, new, old_root, root_of(rewritten), proof)
                assert not verify_consistency(old, new, leaf_hash(b"x"), new_root, proof)


def test_proofs_of_leaves_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(3, leaves(3))
    with pytest.raises(ValueError):
        consistency_proof(4, leaves(3))
