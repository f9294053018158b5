"""The gate's vision pipeline (issue 3): camera → detection → tracking → quality → 1:N →
liveness → :class:`~edge_agent.gate_controller.GateController`.

* :mod:`.gate`      — :class:`GatePipeline` (``step(frame)``, its thread, ``update_gallery``)
* :mod:`.attempt`   — one face's attempt and its phases; what one step did (:class:`StepReport`)
* :mod:`.served_gallery` — the roster gallery the camera thread searches, swapped whole
* :mod:`.prompts`   — prompts and rate-limited hints on the gate's display / voice output
* :mod:`.build`     — one pipeline per gate with a camera, from the gateway's config
* :mod:`.config`    — ``[edge.pipeline]`` (:class:`PipelineConfig`)
* :mod:`.cooldown`, :mod:`.snapshot`, :mod:`.frames` — cool-down, face snapshots, frame checks

Importing this package imports no vision library (the config is read without OpenCV).
"""
