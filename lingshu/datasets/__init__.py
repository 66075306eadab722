"""One module per dataset (as lmms-eval's task folders): its row parser, its training source and/or
benchmark loader built on that parser, and its facts (report column title, published counts, the
paper's numbers). `registry` lists them for the summary tables."""
