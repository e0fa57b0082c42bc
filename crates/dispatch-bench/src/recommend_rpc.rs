//! Section 1b: RecommendUnits end to end, over gRPC on an in-process `dispatchd`, with a synthetic
//! fleet (90 % busy) loaded into its database: the engine's answer plus what the RPC adds around
//! it (reading the incident, checking the candidates' rows against the database so a unit
//! assigned through another process is never offered, storing the recommendation).

use std::time::Instant;

use chrono::Utc;
use dispatch_proto::v1 as pb;

use crate::fanout::create_incidents;
use crate::fleet;
use crate::pg;
use crate::report::{Bench, Samples, ms};
use crate::server::{self, Answered as _, Server};

const CAPABILITY: &str = "aed";

#[derive(Debug, Clone)]
pub struct Options {
    pub units: usize,
    pub incidents: usize,
    pub queries: usize,
    pub seed: u64,
}

pub async fn run(options: &Options, bench: Bench<'_>) -> anyhow::Result<()> {
    let Bench { cluster, report } = bench;
    println!(
        "\n## 1b. RecommendUnits over gRPC: {} units (90 % busy), one `{CAPABILITY}` requirement, \
         5 candidates\n",
        options.units
    );
    let url = cluster.dispatch_database("bench_recommend_rpc").await?;
    let client = pg::connect(&url).await?;
    let units = fleet::fleet(options.seed, options.units, Utc::now());
    fleet::load_units(&client, &units).await?;
    let server = Server::start(&url).await?;
    let (call_taker, dispatcher) = server.call_taker_and_dispatcher("recommend").await?;
    let incidents = create_incidents(&server, &call_taker, options.incidents, options.seed).await?;
    let mut units_client = server::units(server.connection()?, &dispatcher)?;
    let request = |incident: &str| pb::RecommendUnitsRequest {
        request_id: server::request_id(),
        incident: incident.to_owned(),
        plan_override: Some(pb::ResponsePlan {
            requirements: vec![pb::PlanRequirement {
                capability: CAPABILITY.into(),
                count: 1,
                description: String::new(),
            }],
        }),
        max_candidates_per_requirement: 5,
    };
    let warmup = options.queries.div_ceil(10);
    let mut samples = Samples::with_capacity(options.queries);
    let mut offered = 0usize;
    for i in 0..warmup + options.queries {
        let incident = &incidents[i % incidents.len()];
        let began = Instant::now();
        let recommendation = units_client
            .recommend_units(request(incident))
            .await
            .part("RecommendUnits", |answer| answer.recommendation)?;
        let took = began.elapsed();
        if i >= warmup {
            samples.push(took);
            offered += recommendation
                .fills
                .iter()
                .map(|fill| fill.candidates.len())
                .sum::<usize>();
        }
    }
    let summary = samples.summary();
    println!("| units | queries | candidates per answer | p50 ms | p99 ms | max ms |");
    println!("|------:|--------:|----------------------:|-------:|-------:|-------:|");
    println!(
        "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} |",
        options.units,
        options.queries,
        offered as f64 / options.queries.max(1) as f64,
        ms(summary.p50),
        ms(summary.p99),
        ms(summary.max)
    );
    report.set("recommend_rpc_units", options.units as f64);
    report.set("recommend_rpc_p50_ms", ms(summary.p50));
    report.set("recommend_rpc_p99_ms", ms(summary.p99));
    server.stop().await?;
    cluster.drop_database("bench_recommend_rpc").await?;
    Ok(())
}
