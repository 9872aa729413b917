"""Stable-Baselines3 agents for the venn_gym environments, installed as ``venn_gym.agents``:
training (``train``), behaviour-cloning warm start (``bc``), set-based networks (``networks``),
the residual and knobs wrappers and their teachers, and loading and playing a trained model
(``play``). Evaluation against the baselines, sweeps and the leaderboard sit a layer above, in
``venn_gym.experiments``. The command line is ``venn-gym train``, ``venn-gym evaluate`` and
``venn-gym leaderboard``."""
