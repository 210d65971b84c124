#!/usr/bin/env bash
# Runs the Quick, Draw! ndjson -> TFRecord pipeline (python -m pipeline.main) on
# Google Cloud Dataflow. `dataflow_launch.sh --help` explains the settings.
#
# Notes for maintainers (Beam 2.77, read from apache_beam/runners/dataflow/):
# - Runner v2 is the only Dataflow runner for the Python SDK and Beam adds the
#   `use_runner_v2` experiment itself, so none is passed here.
# - `--dry-run` passes Beam's `--dry_run=True`. DataflowRunner.run_pipeline then
#   validates the options (project id, region, temp/staging locations), builds
#   the sdist of setup.py into a local temp dir, translates the pipeline into the
#   portable proto and the Dataflow Job object, and returns before it creates
#   the Dataflow API client. So a dry run stages nothing to GCS, sends nothing
#   to the Dataflow API and skips the soft-delete check of the buckets.
# - Except with prebuilding: DataflowRunner builds and pushes the SDK container
#   (Cloud Build) *before* that return, dry run or not (dataflow_runner.py,
#   run_pipeline). So `--dry-run --prebuild` shows the prebuild flags but does
#   not pass them: a dry run must cost nothing.
# - Workers install the project from --setup_file, which carries only setup.py's
#   core requirements; pipeline.main adds the [pipeline] extra (Beam,
#   tf.Transform) as a --requirements_file (see pipeline.beam_options.worker_requirements).
#   With --prebuild, Beam installs both into the worker image once.
# - The only cloud calls of a plain dry run are the pipeline's own at
#   construction time: listing the input (pipeline.sources) and checking that
#   the output is empty. They go through Beam's GcsIO, which asks google-auth for Application Default
#   Credentials (`gcloud auth application-default login`); with none, google-auth
#   may probe the GCE metadata server and Beam retries for about 20 s before it
#   connects anonymously, which is enough for the public quickdraw_dataset.
# - Offline (the tests), GCS is an emulator: STORAGE_EMULATOR_HOST sends
#   google-cloud-storage to it, a fake authorized_user credentials file with an
#   unexpired token (GOOGLE_APPLICATION_CREDENTIALS) ends the credential lookup
#   at once, and NO_GCE_CHECK=True rules out the metadata-server probe; see
#   tests/gcs_emulator.py. The script needs no change for that.
# - tf.Transform is the exception: while the job is built, it writes its traced
#   graph under the pipeline's temp dir through TensorFlow's own GCS client,
#   which has no emulator support, so the offline test passes
#   `-- --analysis_fraction 0`. Against real GCS the dry run includes it.
set -euo pipefail

readonly DEFAULT_INPUT="gs://quickdraw_dataset/full/simplified/*.ndjson"
readonly DEFAULT_MACHINE_TYPE="n2-standard-4"
readonly DEFAULT_MAX_NUM_WORKERS="32"
readonly REPOSITORY="quickdraw"  # the Artifact Registry repository of cloudbuild.yaml
readonly CLOUD_BUILD_MACHINE="e2-highcpu-8"  # TensorFlow installs in minutes, not tens

usage() {
  cat <<'EOF'
Usage: dataflow_launch.sh [OPTIONS] [-- PIPELINE_ARGS...]

Converts Quick, Draw! ndjson files (one <class>.ndjson per class) into TFRecord
shards on Google Cloud Dataflow by running `python -m pipeline.main` with
DataflowRunner. The job is submitted and the script returns when it finishes
(the pipeline waits for it); follow it in the Cloud Console under Dataflow.

Every option can also be given as an environment variable (in capitals);
a flag wins over its variable.

Required:
  --project ID          PROJECT          GCP project id (6-30 characters:
                                         lowercase letters, digits, hyphens;
                                         starts with a letter), e.g. my-project-123
  --region REGION       REGION           Dataflow region, e.g. us-central1 (the
                                         public dataset lives in the US, so a US
                                         region avoids cross-continent egress)
  --bucket NAME         BUCKET           Your GCS bucket (name or gs://name) for
                                         temp files (gs://NAME/tmp), staging
                                         (gs://NAME/staging) and the default output

Optional:
  --input GLOB          INPUT            ndjson files to read, gs:// glob (.gz ok)
                                         [gs://quickdraw_dataset/full/simplified/*.ndjson]
  --output DIR          OUTPUT           gs:// output directory
                                         [gs://BUCKET/quickdraw/<UTC timestamp>]
  --job-name NAME       JOB_NAME         Dataflow job name [quickdraw-tfrecord-<timestamp>]
  --machine-type TYPE   MACHINE_TYPE     Worker machine type [n2-standard-4]
  --max-num-workers N   MAX_NUM_WORKERS  Autoscaling ceiling [32]
  --train-per-class N   TRAIN_PER_CLASS  Training drawings per class [pipeline default, 10000]
  --eval-per-class N    EVAL_PER_CLASS   Eval drawings per class [pipeline default, 1000]
  --classes-file FILE   CLASSES_FILE     Only these classes, one per line [all found]
  --num-shards N        NUM_SHARDS       Output shards per split [pipeline default]
  --python PATH         PYTHON           Interpreter with the project installed
                                         (Python 3.11, like the workers)
                                         [.venv/bin/python beside this script, as
                                         `make venv` creates it; else python3]
  --prebuild            PREBUILD=1       Install the workers' dependencies once,
                                         into a worker image, instead of on every
                                         worker at start-up (see below)
  --registry URL        REGISTRY         Where --prebuild pushes that image
                                         [REGION-docker.pkg.dev/PROJECT/quickdraw]
  --dry-run             DRY_RUN=1        Build the whole Dataflow job (options
                                         check, sdist of setup.py, pipeline graph)
                                         without submitting it: nothing runs,
                                         nothing is staged, nothing is billed
  -h, --help                             Show this help

Anything after `--` goes to the pipeline unchanged: pipeline flags such as
--recognized_only, --eval_fraction 0.1, --overwrite, or Beam/Dataflow options
such as --num_workers 8, --service_account_email SA, --subnetwork URL,
--labels team=ml. Relative paths there are relative to this script's directory.

Before the first run:
  gcloud auth application-default login
  gcloud services enable dataflow.googleapis.com --project my-project-123
  gcloud storage buckets create gs://my-bucket --location us-central1
The launcher machine needs the project installed (`make venv`, whose
.venv this script uses by default, or `pip install -e '.[pipeline]'`).

Worker dependencies. By default each worker installs the project from
./setup.py and its Beam and tf.Transform requirements from PyPI when it
starts: a few minutes per worker, on every worker. With --prebuild, Beam's SDK
container prebuilding installs them once, on Google Cloud Build, into an image
based on Beam's own Python 3.11 SDK image, pushes it to --registry and starts
every worker from it. That costs one Cloud Build run (about 5-10 minutes,
billed per build-minute) per launch and saves the install on every worker:
worth it from a handful of workers on. Once, beforehand:
  gcloud services enable cloudbuild.googleapis.com artifactregistry.googleapis.com
  gcloud artifacts repositories create quickdraw --repository-format=docker \
      --location us-central1
Beam tags each prebuilt image with a new id and logs it; to reuse one instead
of building again, pass `-- --sdk_container_image IMAGE` without --prebuild.

Examples:
  # Check that the job builds, without running anything:
  ./dataflow_launch.sh --dry-run --project my-project-123 \
      --region us-central1 --bucket my-bucket

  # Full dataset, 10k train + 1k eval drawings per class:
  PROJECT=my-project-123 REGION=us-central1 BUCKET=my-bucket ./dataflow_launch.sh

  # A trial on the ~14 classes whose names start with "ca" (cake ... cat),
  # on at most 4 workers, recognized drawings only:
  ./dataflow_launch.sh --project my-project-123 --region us-central1 \
      --bucket my-bucket --max-num-workers 4 \
      --input 'gs://quickdraw_dataset/full/simplified/ca*.ndjson' \
      -- --recognized_only

The script returns when the job ends (the pipeline waits for it). Stopping
the script does not stop the job: use `gcloud dataflow jobs cancel JOB_ID
--region REGION` or the Cloud Console.

Cost (rough; see https://cloud.google.com/dataflow/pricing): a batch worker
is billed per vCPU-hour and GB-hour, about US$0.28 per hour for an
n2-standard-4 in us-central1, plus its disk and Dataflow Shuffle. The default
ceiling of 32 workers therefore costs up to about US$9-10 per hour of
wall-clock time while scaled out. The full dataset is ~50 million drawings in
~23 GB of ndjson; time the trial above first and scale from it.
Outputs stay billed as GCS storage until deleted. A dry run costs nothing.
EOF
}

die() {
  printf 'dataflow_launch.sh: error: %s\n' "$*" >&2
  printf "Run 'dataflow_launch.sh --help' for usage.\n" >&2
  exit 2
}

# Settings: environment first, flags override.
project="${PROJECT:-}"
region="${REGION:-}"
bucket="${BUCKET:-}"
input="${INPUT:-$DEFAULT_INPUT}"
output="${OUTPUT:-}"
job_name="${JOB_NAME:-}"
machine_type="${MACHINE_TYPE:-$DEFAULT_MACHINE_TYPE}"
max_num_workers="${MAX_NUM_WORKERS:-$DEFAULT_MAX_NUM_WORKERS}"
train_per_class="${TRAIN_PER_CLASS:-}"
eval_per_class="${EVAL_PER_CLASS:-}"
classes_file="${CLASSES_FILE:-}"
num_shards="${NUM_SHARDS:-}"
python="${PYTHON:-}"
prebuild="${PREBUILD:-0}"
registry="${REGISTRY:-}"
dry_run="${DRY_RUN:-0}"
extra_args=()

# Reads the value of option $1 from "$2" (the next word) for `--flag value`.
need_value() {
  [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value"
}

while [[ $# -gt 0 ]]; do
  arg="$1"
  # Split --flag=value into the flag and its value.
  if [[ "$arg" == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg="$1"
  fi
  case "$arg" in
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run | --dry_run) dry_run=1; shift ;;
    --prebuild) prebuild=1; shift ;;
    --registry) need_value "$@"; registry="$2"; shift 2 ;;
    --project) need_value "$@"; project="$2"; shift 2 ;;
    --region) need_value "$@"; region="$2"; shift 2 ;;
    --bucket) need_value "$@"; bucket="$2"; shift 2 ;;
    --input) need_value "$@"; input="$2"; shift 2 ;;
    --output) need_value "$@"; output="$2"; shift 2 ;;
    --job-name | --job_name) need_value "$@"; job_name="$2"; shift 2 ;;
    --machine-type | --machine_type) need_value "$@"; machine_type="$2"; shift 2 ;;
    --max-num-workers | --max_num_workers)
      need_value "$@"; max_num_workers="$2"; shift 2 ;;
    --train-per-class | --train_per_class)
      need_value "$@"; train_per_class="$2"; shift 2 ;;
    --eval-per-class | --eval_per_class)
      need_value "$@"; eval_per_class="$2"; shift 2 ;;
    --classes-file | --classes_file) need_value "$@"; classes_file="$2"; shift 2 ;;
    --num-shards | --num_shards) need_value "$@"; num_shards="$2"; shift 2 ;;
    --python) need_value "$@"; python="$2"; shift 2 ;;
    --)
      shift
      extra_args=("$@")
      break
      ;;
    *) die "unknown option '$arg' (pipeline options go after --)" ;;
  esac
done

# --- Validation: fail here, in a second, rather than minutes into a job. ---

[[ -n "$project" ]] || die "no project: pass --project ID or set PROJECT"
# GCP project ids: 6-30 characters, lowercase letters, digits and hyphens,
# starting with a letter and not ending with a hyphen.
if ! [[ "$project" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]]; then
  die "'$project' is not a valid GCP project id: it must be 6-30 characters of" \
    "lowercase letters, digits and hyphens, start with a letter and not end" \
    "with a hyphen (the id, e.g. my-project-123, not the name or number)"
fi

[[ -n "$region" ]] || die "no region: pass --region REGION (e.g. us-central1) or set REGION"
if ! [[ "$region" =~ ^[a-z]+(-[a-z]+)+[0-9]+$ ]]; then
  die "'$region' does not look like a Dataflow region such as us-central1"
fi

[[ -n "$bucket" ]] || die "no bucket: pass --bucket NAME or set BUCKET"
bucket="${bucket#gs://}"
bucket="${bucket%/}"
if ! [[ "$bucket" =~ ^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$ ]]; then
  die "'$bucket' is not a valid GCS bucket name (3-63 characters: lowercase" \
    "letters, digits, '-', '_', '.')"
fi

stamp="$(date -u +%Y%m%d-%H%M%S)"
[[ -n "$output" ]] || output="gs://$bucket/quickdraw/$stamp"
[[ -n "$job_name" ]] || job_name="quickdraw-tfrecord-$stamp"

[[ "$input" == gs://* ]] || die "--input must be a gs:// path: Dataflow workers cannot read '$input'"
[[ "$output" == gs://* ]] || die "--output must be a gs:// path: Dataflow workers cannot write '$output'"
if ! [[ "$job_name" =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]]; then
  die "'$job_name' is not a valid Dataflow job name (lowercase letters, digits" \
    "and hyphens, starting with a letter, at most 63 characters)"
fi

is_positive_int() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
is_positive_int "$max_num_workers" || die "--max-num-workers must be a positive integer, got '$max_num_workers'"
for pair in "train-per-class:$train_per_class" "eval-per-class:$eval_per_class" \
  "num-shards:$num_shards"; do
  value="${pair#*:}"
  [[ -z "$value" ]] || [[ "$value" =~ ^[0-9]+$ ]] ||
    die "--${pair%%:*} must be a non-negative integer, got '$value'"
done
[[ -n "$machine_type" ]] || die "--machine-type must not be empty"

# A local classes file is read at launch; keep a relative path valid after cd.
if [[ -n "$classes_file" && "$classes_file" != gs://* ]]; then
  [[ -f "$classes_file" ]] || die "classes file '$classes_file' does not exist"
  classes_file="$(cd "$(dirname "$classes_file")" && pwd)/$(basename "$classes_file")"
fi

is_flag() { case "$1" in 1 | true | True | yes) return 0 ;; esac; return 1; }
for pair in "DRY_RUN:$dry_run" "PREBUILD:$prebuild"; do
  case "${pair#*:}" in
    1 | true | True | yes | 0 | false | False | no | "") ;;
    *) die "${pair%%:*} must be 0 or 1, got '${pair#*:}'" ;;
  esac
done
[[ -n "$registry" ]] || registry="$region-docker.pkg.dev/$project/$REPOSITORY"
if ! [[ "$registry" =~ ^[a-z0-9.-]+(:[0-9]+)?/[^[:space:]]+$ ]]; then
  die "--registry '$registry' is not a registry URL such as" \
    "us-central1-docker.pkg.dev/my-project-123/quickdraw"
fi

project_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "$python" ]]; then
  # The interpreter `make venv` made, unless told otherwise.
  python="python3"
  [[ -x "$project_dir/.venv/bin/python" ]] && python="$project_dir/.venv/bin/python"
fi
command -v "$python" >/dev/null 2>&1 || die "Python interpreter '$python' not found (set PYTHON or --python)"
# A relative interpreter path (.venv/bin/python) must survive the cd below.
if [[ "$python" == */* && "$python" != /* ]]; then
  python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
fi

# --setup_file ./setup.py and `python -m pipeline.main` resolve from the
# project's root, which is where this script lives.
cd "$project_dir"
[[ -f setup.py ]] || die "setup.py not found next to this script in $(pwd)"
# Seconds now rather than a traceback later: the pipeline runs in this Python.
missing="$("$python" -c '
import importlib.util as u
print(*[m for m in ("apache_beam", "tensorflow_transform", "pipeline.main")
        if u.find_spec(m.split(".")[0]) is None])' 2>&1)" ||
  die "'$python' does not run: $missing"
[[ -z "$missing" ]] || die "'$python' cannot import $missing: run 'make venv'" \
  "in $project_dir (this script then uses its .venv), or pass --python with" \
  "an interpreter that has the project installed (pip install -e '.[pipeline]')"

cmd=(
  "$python" -m pipeline.main
  --input "$input"
  --output "$output"
)
[[ -z "$classes_file" ]] || cmd+=(--classes_file "$classes_file")
[[ -z "$train_per_class" ]] || cmd+=(--train_per_class "$train_per_class")
[[ -z "$eval_per_class" ]] || cmd+=(--eval_per_class "$eval_per_class")
[[ -z "$num_shards" ]] || cmd+=(--num_shards "$num_shards")
cmd+=(
  --runner DataflowRunner
  --project "$project"
  --region "$region"
  --job_name "$job_name"
  --temp_location "gs://$bucket/tmp"
  --staging_location "gs://$bucket/staging"
  --setup_file ./setup.py
  --machine_type "$machine_type"
  --max_num_workers "$max_num_workers"
  --autoscaling_algorithm THROUGHPUT_BASED
)
prebuild_args=()
if is_flag "$prebuild"; then
  prebuild_args=(
    --prebuild_sdk_container_engine cloud_build
    --docker_registry_push_url "$registry"
    --cloud_build_machine_type "$CLOUD_BUILD_MACHINE"
  )
fi
if is_flag "$dry_run"; then
  dry_run=1
  cmd+=(--dry_run=True)
else
  dry_run=0
  cmd+=(${prebuild_args[@]+"${prebuild_args[@]}"})
fi
# The ${a[@]+...} form keeps `set -u` quiet on an empty array in bash < 4.4.
cmd+=(${extra_args[@]+"${extra_args[@]}"})

if [[ "$dry_run" == 1 ]]; then
  echo "dataflow_launch.sh: dry run: building job '$job_name' without submitting it" >&2
else
  echo "dataflow_launch.sh: submitting job '$job_name' to Dataflow in $project/$region" >&2
fi
printf 'dataflow_launch.sh: running:' >&2
printf ' %q' "${cmd[@]}" >&2
printf '\n' >&2
if [[ "$dry_run" == 1 && ${#prebuild_args[@]} -gt 0 ]]; then
  printf 'dataflow_launch.sh: on submission, also:' >&2
  printf ' %q' "${prebuild_args[@]}" >&2
  printf '\n  (Beam builds and pushes the worker image even in its dry run, so this dry run leaves them out)\n' >&2
fi

"${cmd[@]}"

if [[ "$dry_run" == 1 ]]; then
  echo "dataflow_launch.sh: dry run OK: job '$job_name' was built; nothing was submitted"
else
  echo "dataflow_launch.sh: job '$job_name' finished; output in $output"
fi
