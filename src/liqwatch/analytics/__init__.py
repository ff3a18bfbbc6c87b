"""Analytics: every figure liqwatch shows, computed once from stored and live events — totals, open interest, price
and levels, funding, signals, the brief, stress, event study — and how a figure is rounded and written (numbers,
text, htmljson).

May import model, venues, config, storage and heatmap; never web, roles or cli.
"""
