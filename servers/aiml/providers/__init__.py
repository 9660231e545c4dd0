"""Model providers behind one interface (:mod:`.base`): ``local``, ``openai`` and ``ollama``, one subpackage each."""
