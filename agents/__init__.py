"""Stable-Baselines3 agents for the venn_gym environments: training (``agents.train``),
behaviour-cloning warm start (``agents.bc``), set-based networks (``agents.networks``),
evaluation against the baselines (``agents.evaluate``), sweeps (``agents.sweep``) and
the leaderboard (``agents.leaderboard``). The command line is ``venn-gym train``,
``venn-gym evaluate`` and ``venn-gym leaderboard``."""
