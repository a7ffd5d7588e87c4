"""Learning tools on top of the engine: the shape ledger (``explain``), graph drawings
(``graphviz``), the diagnosis of a learner's hand-written backprop (``diagnose``, with its bug
table in ``bugs``), and the tensor names they share (``names``). They read only the public
node view (``Tensor.node``) and walk graphs with ``autograd.walk``, the walk backward uses.
Leaves out: printing and exit codes (``cli``).
"""
