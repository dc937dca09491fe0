"""Evaluation of unlearned models (EvalIGMU, HUB): sample a method's benchmark images, then
score forgetting, preservation, alignment, subject kept and robustness per method.

- `prompts`: prompt sets as named axes, from a dataset's `prompts` config or a prompt file;
- `sample`: one method's images, `OUT/<method>/<prompt_set>/<prompt_id>_<k>.png` + manifest;
- `layout`: the image folders a scorecard reads (sample's, and public benchmarks' layouts);
- `stats`: Wilson, Rogan-Gladen, bootstrap, McNemar;
- `models`: metric models through their libraries' loaders (torchmetrics, lpips, timm, CLIP);
- `metrics`: the registry of metric computations, one aspect each;
- `scorecard`: the step that runs them and writes the table, JSON and report.
"""
