//! `windtunnel trace import|gen|stats`.

use crate::scenario_args::TraceFormatArg;
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use windtunnel_core::{Dist, Streams, parse_duration_ms};
use windtunnel_trace::{
    ArrivalPattern, ConversationSpec, Generator, MAX_REPEATED_PROMPTS, ReadOptions, RepeatSpec, SpecError,
    SyntheticSpec, TraceFormat, TraceReader, TraceStats, TraceWriter,
};

/// `windtunnel trace …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TraceCommand {
    /// Convert a public trace (Azure, BurstGPT, Mooncake) to windtunnel's JSON lines.
    Import(ImportArgs),
    /// Generate a synthetic trace.
    Gen(GenArgs),
    /// Summarise a trace: count, span, rates, token percentiles, classes, tenants.
    Stats(StatsArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ImportFormat {
    Azure,
    Burstgpt,
    Mooncake,
}

/// Arguments of `trace import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The source format.
    #[arg(long = "from", value_enum)]
    from: ImportFormat,
    /// The file to import.
    input: PathBuf,
    /// Output file (default: standard output).
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// Skip lines that cannot be read, and count them, instead of stopping.
    #[arg(long)]
    skip_bad_lines: bool,
}

/// Arguments of `trace gen`.
#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// Output file.
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
    /// Mean arrivals per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Length of the trace (`90s`, `1h`, `6h20m`).
    // Hyphen values reach the duration parser, which says what is wrong
    // with `-5m`, instead of clap calling it an unexpected argument.
    #[arg(long, default_value = "1h", allow_hyphen_values = true)]
    duration: String,
    /// Arrival pattern.
    #[arg(long, value_enum, default_value = "poisson")]
    pattern: Pattern,
    /// Input tokens: `lognormal:MEDIAN:P99`, `normal:MEAN:SD`, `uniform:MIN:MAX` or `fixed:N`.
    #[arg(long, default_value = "lognormal:800:8000")]
    input_tokens: String,
    /// Output tokens, same forms as `--input-tokens`.
    #[arg(long, default_value = "lognormal:200:1500")]
    output_tokens: String,
    /// Class mix, e.g. `interactive=0.7,batch=0.3`.
    #[arg(long, default_value = "")]
    classes: String,
    /// Tenant mix, e.g. `acme=0.5,globex=0.5`.
    #[arg(long, default_value = "")]
    tenants: String,
    /// Language mix, e.g. `en=0.8,zh=0.2`.
    #[arg(long, default_value = "")]
    langs: String,
    /// Share of streamed requests, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    stream_share: f64,
    /// Make requests the turns of conversations that share prompt prefixes
    /// (`hash_ids` of 512-token blocks): this many turns per conversation on
    /// average (at least 1). Without it, requests stand alone.
    #[arg(long)]
    conversation_turns: Option<f64>,
    /// With `--conversation-turns`: tokens of the system prompt every
    /// conversation starts with.
    #[arg(long, default_value_t = 1024)]
    system_tokens: u32,
    /// Share of requests (0 to 1) that ask one of the popular prompts
    /// (`prompt_hash`, for a response cache; Zipf popularity; each prompt's
    /// first asking included). Not with `--conversation-turns`.
    #[arg(long, conflicts_with = "conversation_turns")]
    repeat_share: Option<f64>,
    /// With `--repeat-share`: how many distinct popular prompts.
    #[arg(long, default_value_t = 1000, requires = "repeat_share")]
    repeat_prompts: u32,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Pattern {
    Poisson,
    Diurnal,
    Bursty,
}

/// Arguments of `trace stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// The trace.
    trace: PathBuf,
    /// Its format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: TraceFormatArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Skip lines that cannot be read, and count them, instead of stopping.
    #[arg(long)]
    skip_bad_lines: bool,
}

pub(crate) fn run(cmd: TraceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TraceCommand::Import(a) => import(a),
        TraceCommand::Gen(a) => generate(a),
        TraceCommand::Stats(a) => stats(a),
    }
}

fn open_out(out: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match out {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create `{}`", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

/// Whether two paths name the same file (the same inode on Unix, so hard
/// links and symlinks count; the same canonical path elsewhere). A path that
/// does not exist is no other file.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    // Creating the output truncates it: were it the input, the trace would be
    // gone before a line of it was read.
    if let Some(out) = a.out.as_deref().filter(|out| same_file(&a.input, out)) {
        bail!(
            "-o `{}`: found the input trace `{}` itself, expected another file (writing it would destroy the trace before it is read)",
            out.display(),
            a.input.display()
        );
    }
    let format = match a.from {
        ImportFormat::Azure => TraceFormat::Azure,
        ImportFormat::Burstgpt => TraceFormat::Burstgpt,
        ImportFormat::Mooncake => TraceFormat::Mooncake,
    };
    let opts = ReadOptions { skip_bad_lines: a.skip_bad_lines, ..ReadOptions::default() };
    let mut reader = TraceReader::open(&a.input, format, opts)?;
    let mut writer = TraceWriter::new(open_out(a.out.as_deref())?);
    for req in reader.by_ref() {
        writer.write(&req?).context("writing the trace")?;
    }
    writer.flush().context("writing the trace")?;
    let written = writer.written();
    if a.out.is_some() || reader.skipped() > 0 {
        eprintln!("imported {written} requests from `{}` ({} bad lines skipped)", a.input.display(), reader.skipped());
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_dist(flag: &str, s: &str) -> anyhow::Result<Dist> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |i: usize| -> anyhow::Result<f64> {
        let p = parts.get(i).with_context(|| format!("--{flag} `{s}`: missing a number"))?;
        p.parse().with_context(|| format!("--{flag} `{s}`: `{p}` is not a number"))
    };
    let dist = match (parts.first().copied().unwrap_or_default(), parts.len()) {
        ("lognormal", 3) => Dist::lognormal(num(1)?, num(2)?),
        ("normal", 3) => Dist::normal(num(1)?, num(2)?),
        ("uniform", 3) => Dist::uniform(num(1)?, num(2)?),
        ("fixed", 2) => {
            // A token count: a whole number, 0 to u32::MAX.
            let n = num(1)?;
            if !(n >= 0.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX)) {
                bail!("--{flag} `{s}`: found {n}, expected a token count, an integer from 0 to 4294967295");
            }
            Ok(Dist::Fixed(n))
        }
        _ => bail!("--{flag} `{s}`: expected lognormal:MEDIAN:P99, normal:MEAN:SD, uniform:MIN:MAX or fixed:N"),
    };
    dist.map_err(|e| anyhow::anyhow!("--{flag} `{s}`: {e}"))
}

fn parse_mix(flag: &str, s: &str) -> anyhow::Result<Vec<(String, f64)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').with_context(|| format!("--{flag} `{p}`: expected NAME=WEIGHT"))?;
            let w: f64 = v.trim().parse().with_context(|| format!("--{flag} `{p}`: `{v}` is not a number"))?;
            if !(w >= 0.0 && w.is_finite()) {
                bail!("--{flag} `{p}`: weight must be 0 or more");
            }
            Ok((k.trim().to_string(), w))
        })
        .collect()
}

fn generate(a: GenArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.stream_share) {
        bail!("--stream-share {}: expected a share from 0 to 1", a.stream_share);
    }
    let duration_ms = parse_duration_ms(&a.duration).map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
    let spec = SyntheticSpec {
        rate_per_s: a.rate,
        duration_ms,
        pattern: match a.pattern {
            Pattern::Poisson => ArrivalPattern::Poisson,
            Pattern::Diurnal => ArrivalPattern::Diurnal,
            Pattern::Bursty => ArrivalPattern::Bursty,
        },
        input_tokens: parse_dist("input-tokens", &a.input_tokens)?,
        output_tokens: parse_dist("output-tokens", &a.output_tokens)?,
        classes: parse_mix("classes", &a.classes)?,
        tenants: parse_mix("tenants", &a.tenants)?,
        langs: parse_mix("langs", &a.langs)?,
        stream_share: a.stream_share,
        conversations: a.conversation_turns.map(|turns| ConversationSpec { turns, system_tokens: a.system_tokens }),
        repeats: a.repeat_share.map(|share| RepeatSpec { share, prompts: a.repeat_prompts }),
    };
    if let Some(share) = a.repeat_share
        && !(0.0..=1.0).contains(&share)
    {
        bail!("--repeat-share {share}: expected a share from 0 to 1");
    }
    if !(1..=MAX_REPEATED_PROMPTS).contains(&a.repeat_prompts) {
        bail!("--repeat-prompts {}: expected an integer from 1 to {MAX_REPEATED_PROMPTS}", a.repeat_prompts);
    }
    if let Some(t) = a.conversation_turns
        && !(t.is_finite() && (1.0..=1e6).contains(&t))
    {
        bail!("--conversation-turns {t}: expected a mean number of turns from 1 to 1000000");
    }
    // Before the output is created: a rate of 1e12 would write without end.
    spec.check_limits().map_err(|e| match e {
        SpecError::Rate { .. } => anyhow::anyhow!("--rate {}: {e}", a.rate),
        SpecError::Duration { .. } => anyhow::anyhow!("--duration {}: {e}", a.duration),
        _ => anyhow::anyhow!("--rate {} --duration {}: {e}", a.rate, a.duration),
    })?;
    let mut writer = TraceWriter::new(open_out(Some(&a.out))?);
    for req in Generator::new(&spec, &Streams::from_seed(a.seed)) {
        writer.write(&req).context("writing the trace")?;
    }
    writer.flush().context("writing the trace")?;
    eprintln!("generated {} requests into `{}`", writer.written(), a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let opts = ReadOptions { skip_bad_lines: a.skip_bad_lines, ..ReadOptions::default() };
    let mut reader = TraceReader::open(&a.trace, a.format.format(), opts)?;
    let mut stats = TraceStats::new();
    for req in reader.by_ref() {
        stats.record(&req?);
    }
    // A closed stdout (`| head`) is an error here, which main turns into a
    // quiet exit, where `println!` would panic.
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&stats.summary())?)?;
    } else {
        write!(out, "{stats}")?;
        if reader.skipped() > 0 {
            writeln!(out, "skipped bad lines: {}", reader.skipped())?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
