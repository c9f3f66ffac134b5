//! The `trawl` command: ingest, search, stats and eval.
#![deny(unsafe_op_in_unsafe_fn)]

use clap::Parser;
use trawl::{ContextOptions, Fusion, SearchMode};

use crate::args::{Cli, Command};
use crate::commands::check::check;
use crate::commands::delete::delete;
use crate::commands::eval::{eval, EvalTarget};
use crate::commands::extract::extract;
use crate::commands::ingest::{ingest, IngestArgs};
use crate::commands::search::{context, search};
use crate::commands::stats::stats;
use crate::commands::tune::TuneArgs;

mod args;
mod commands;
mod output;

/// Logs to stderr: warnings by default (a slow CPU path, a graph not saved), more with
/// `-v`, or whatever `RUST_LOG` says.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn",
            1 => "warn,trawl=info,trawl_index=info,trawl_ingest=info",
            _ => "warn,trawl=debug,trawl_index=debug,trawl_ingest=debug",
        })
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`trawl search ... | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE disposition at start-up, before any
    // thread exists, is what the C runtime does for every C program.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Ingest {
            paths,
            index,
            model,
            tenant,
            prune,
            shards,
            json,
            max_file_mb,
        } => {
            let limits = trawl::Limits::default().max_file_bytes(max_file_mb * 1024 * 1024);
            let options = IngestArgs {
                limits: &limits,
                json,
                tenant: tenant.as_deref(),
                prune,
                shards: shards.map(usize::from),
            };
            ingest(&paths, &index, &model, &options)
        }
        Command::Delete {
            doc_ids,
            index,
            tenant,
        } => delete(&doc_ids, &index, tenant.as_deref()),
        Command::Search {
            query,
            index,
            k,
            mode,
            json,
            model,
            tuning,
        } => {
            let options = tuning.options(k, mode);
            search(&query, &index, &options, json, model.as_deref())
        }
        Command::Context {
            query,
            index,
            budget,
            k,
            mode,
            json,
            model,
            tuning,
        } => {
            let options = ContextOptions {
                budget,
                search: tuning.options(k, mode),
            };
            context(&query, &index, &options, json, model.as_deref())
        }
        Command::Stats { index, json } => stats(&index, json),
        Command::Extract {
            paths,
            json,
            max_file_mb,
        } => match extract(&paths, json, max_file_mb) {
            Ok(true) => Ok(()),
            Ok(false) => std::process::exit(1),
            Err(e) => Err(e),
        },
        Command::Check {
            index,
            repair,
            json,
        } => check(&index, repair, json),
        Command::Feedback {
            query,
            doc_id,
            index,
            not_relevant,
            tenant,
        } => commands::open_existing(&index, None).and_then(|c| {
            c.feedback_for(
                tenant.as_deref().unwrap_or(""),
                &query,
                &doc_id,
                !not_relevant,
            )?;
            Ok(())
        }),
        Command::Tune {
            out,
            model,
            train,
            split,
            pair_files,
            index,
            label_free,
            max_pairs,
            feedback,
            tenant,
            hard_negatives,
            reembed,
            epochs,
            batch_size,
            lr,
            seed,
            token_budget,
            max_tokens,
            checkpoint_every,
            max_steps,
            json,
        } => {
            let base = model
                .or_else(|| trawl::default_model_dir(None))
                .or_else(args::model_beside_exe);
            match base {
                None => Err(anyhow::anyhow!(
                    "no base model: give --model DIR or set TRAWL_MODEL"
                )),
                Some(base) => {
                    let mut options = trawl::tune::TuneOptions::default();
                    options.epochs = epochs;
                    options.batch_size = batch_size;
                    options.learning_rate = lr;
                    options.seed = seed;
                    options.token_budget = token_budget;
                    options.max_tokens = max_tokens;
                    options.checkpoint_every = checkpoint_every;
                    options.max_steps = max_steps;
                    commands::tune::run(&TuneArgs {
                        base: &base,
                        out: &out,
                        beir: train.as_deref().map(|d| (d, split.as_str())),
                        pair_files: &pair_files,
                        from_index: index.as_deref().map(|dir| commands::tune::FromIndex {
                            dir,
                            label_free: label_free.clone(),
                            max_pairs,
                            feedback,
                            tenant: tenant.clone(),
                            hard_negatives,
                            reembed,
                        }),
                        options,
                        json,
                    })
                }
            }
        }
        Command::Eval {
            beir_dir,
            split,
            mode,
            compare,
            index,
            json,
            model,
            fusions,
            candidates,
            rerank,
            keep_identical_ids,
        } => {
            let fusions = if fusions.is_empty() {
                vec![Fusion::default()]
            } else {
                fusions
            };
            let mut runs = Vec::new();
            if compare {
                runs.push((SearchMode::Dense, Fusion::default()));
                runs.push((SearchMode::Keyword, Fusion::default()));
            }
            if compare || mode == SearchMode::Hybrid {
                runs.extend(fusions.iter().map(|f| (SearchMode::Hybrid, *f)));
            } else {
                runs.push((mode, Fusion::default()));
            }
            let target = EvalTarget {
                dir: &beir_dir,
                split: &split,
                index: index.as_deref(),
                rerank: rerank.as_deref(),
                keep_identical_ids,
            };
            eval(&target, &runs, candidates, json, &model)
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
