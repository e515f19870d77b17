"""Recipes: a pattern set's product-specific settings (`<set>.recipe.toml` beside it).

model: what a recipe may set and the settings in force; files: reading and writing the
files with their comments kept; active: the recipe of the active set; waiting: until the
camera has reopened with a recipe's values.
"""
