"""Graph stores: one interface (:mod:`.base`), one subpackage per backend."""
