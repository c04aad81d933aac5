//! Adversarial suite: probes the real `attest serve` binary as an attacker and a careless client would.
