"""The grounded-answer pipeline, one stage a module. Surfaces reach it only through `assistant.answerer`.

    question ─ followups ─ retrieve ─ grounding ──no──▶ decline + closest passages
                                         │yes
                                         ▼
              context (numbered excerpts) ─▶ model ─▶ citations (sentences tied to chunks in code)

- `results`: what the pipeline gives (the answer record, stream events).
- `text`: tokens, terms, facts and sentences, shared by every stage.
- `scope`: products and versions — which one a question names, how to label it.
- `followups`: a follow-up turned into a standalone query.
- `grounding`: whether the library holds an answer, from retrieval evidence alone.
- `context`: the excerpts and messages the model is shown.
- `citations`: each answer sentence tied to the chunk that supports it; the extractive answer.
- `pipeline`: the stages in order, streamed.
- `bridge`: the blocking stream for async callers.

Design choices, and why:
- Whether the library holds an answer is decided from retrieval evidence (coverage of the question's
  terms by the top chunks, its distinctive terms, agreement, closeness in meaning), not by asking the
  model: a 135M model says "not found" and invents answers about equally readily.
- The model sees passages as fenced, numbered data blocks and only the sentences of each chunk most
  relevant to the question (`ChatLLM.prompt_budget`); retrieved text is data, never instructions.
- Citations are attributed in code: the model's [n] markers are only hints, markers naming nothing
  are dropped, and citations are renumbered in the order they are first cited. A sentence no passage
  supports is dropped, as is one that loops, a question the model asks itself, and a closing "use the
  following command:" whose sequel was dropped. When nothing survives, the answer is the passages'
  own best sentences, cited.
"""
