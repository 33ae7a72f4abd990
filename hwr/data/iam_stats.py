"""How IAM's word labels are made up, shared by the synthetic set (which exaggerates the rare
kinds so that they are learnt) and the lexicon's word prior (which follows IAM as it is).

Shares were counted on the 8,745 training words of the writer-disjoint iam-dev split: 10.1 %
punctuation marks, 16.8 % Capitalised words, 0.7 % UPPER-case words, 0.6 % with digits.
"""

# Punctuation marks are words of their own in IAM; relative weights follow their counts.
PUNCTUATION = {".": 30, ",": 25, '"': 9, "-": 4, "'": 2, ":": 1.6, ";": 1.0, "(": 0.8, ")": 0.8,
               "?": 0.8, "!": 0.6, "#": 0.6, "&": 0.3, "/": 0.3, "*": 0.2, "+": 0.2}
PUNCTUATION_SHARE = 0.10
# How a word is cased, among the words that are not punctuation.
CASE_SHARES = {"lower": 0.805, "capitalised": 0.187, "upper": 0.008}
