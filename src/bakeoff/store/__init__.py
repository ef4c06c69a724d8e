"""The formats a comparison leaves on disk, and their readers: a run folder (store/runfolder.py), a comparison folder
(comparison.py), the leaderboard, per-run locks, whether a folder holds this very run (matching.py)."""
