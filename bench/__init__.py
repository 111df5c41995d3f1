"""``make bench``: Linli as deployed, measured against baselines of the same run.

``python -m bench.run [--quick] [--out bench/results.json]``; see ``bench/run.py``.
"""
