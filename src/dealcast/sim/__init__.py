"""Forecast engine: turn per-deal win probabilities into period forecasts with intervals.

- `periods`: week / month / (fiscal) quarter periods and a vectorised date -> period lookup;
- `timing`: empirical distributions, learned from closed deals, of how far the actual close
  date lands from the stated one, and of won amount / amount at the snapshot;
- `montecarlo`: a vectorised Monte Carlo simulation over deals x simulations (optionally with
  a shared period-level shock), plus the deterministic Σ p × amount fallback.

Pure numpy/pandas: no database access, no LLM; randomness always comes from a seed.
"""
