"""The untrusted side of grading: a student's code runs in a process forked from a clean zygote.

wire (what crosses the socket), isolation (namespaces, mounts, uid, limits), dispatch (calls on
the student's objects), child (the student's process), zygote (imports once, forks children).
Nothing in this package imports from the rest of the project: a child inherits the zygote's
memory, and no reference solution or hidden check may be in it.
"""
