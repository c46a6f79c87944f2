"""The multi-branch neural classifier (PyTorch): Transformer over the time series, CNN over
the phase-folded views, MLP over scalar features, fused into a heteroscedastic logit.

torch is imported only inside this subpackage; ``exoguard.core`` stays torch-free.
"""
