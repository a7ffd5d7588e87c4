"""Learning tools on top of the engine: the shape ledger (``explain``), graph drawings
(``graphviz``), the diagnosis of a learner's hand-written backprop (``diagnose`` and its
``report``, the bug table ``bugs``; a learner's own files, classes and update steps in
``learner``, ``parameters`` and ``source``), and the tensor names they share (``names``). They
read only the public node view (``Tensor.node``) and walk graphs with ``autograd.walk``, the
walk backward uses. Leaves out: printing and exit codes (``cli``).
"""
