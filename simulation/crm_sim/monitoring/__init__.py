"""A synthetic bank's book for monitoring: firms living ordinary, messy lives, some misusing
loan money in hard-to-see ways, with ground truth for every misuse instance.

``world.generate`` builds the postings, client and facility context and labels;
``evaluate`` scores the pure engine on them and ``service`` streams them through the real
risk service. Tune on some seeds; report on a held-out one (``evaluate --holdout``).
"""
