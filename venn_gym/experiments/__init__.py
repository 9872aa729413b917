"""Orchestration above the envs, baselines and agents: runs over policies x seeds (``compare``),
Table 1 (``paper_table``), the speed benchmark, headroom (oracle and lower bound), agents'
evaluation, sweeps and the leaderboard. ``venn_gym.cli`` drives them; nothing below imports them."""
