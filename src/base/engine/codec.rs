//! How credence's own plan nodes travel between a run's client, the
//! Ballista scheduler and its executors: Ballista's codecs, plus the
//! landing scan ([`LandingScan`] as a table, a `DataSourceExec` of its
//! [`LandingSource`] as a task's leaf) and [`WriteParts`], each written as
//! a tagged JSON description. Every node of a cluster takes these codecs,
//! so a plan the client sends decodes everywhere.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use super::landing_scan::{file_index, LandingScan, LandingSource, ScanSpec};
use super::write_parts::{PartsSpec, WriteParts};

/// Starts every buffer of a landing scan this codec writes; Ballista's own are protobuf.
const TAG: &[u8] = b"credence:landing-scan:";

/// Starts every buffer of a [`WriteParts`] node.
const PARTS_TAG: &[u8] = b"credence:write-parts:";

/// A landing scan's plan node in plain fields: the scan, and the files of
/// each partition this node reads (a scheduler gives each task its own).
#[derive(Serialize, Deserialize)]
struct ExecSpec {
    scan: ScanSpec,
    groups: Vec<Vec<usize>>,
    limit: Option<usize>,
}

fn write<T: Serialize>(value: &T, buf: &mut Vec<u8>) -> DfResult<()> {
    write_tagged(TAG, value, buf)
}

fn read<T: for<'de> Deserialize<'de>>(buf: &[u8]) -> Option<DfResult<T>> {
    read_tagged(TAG, buf)
}

fn write_tagged<T: Serialize>(tag: &[u8], value: &T, buf: &mut Vec<u8>) -> DfResult<()> {
    buf.extend_from_slice(tag);
    serde_json::to_writer(buf, value).map_err(|e| DataFusionError::Internal(format!("{}: {e}", what(tag))))
}

fn read_tagged<T: for<'de> Deserialize<'de>>(tag: &[u8], buf: &[u8]) -> Option<DfResult<T>> {
    let body = buf.strip_prefix(tag)?;
    Some(serde_json::from_slice(body).map_err(|e| DataFusionError::Internal(format!("{}: {e}", what(tag)))))
}

/// The node a tag stands for, for an error.
fn what(tag: &[u8]) -> &'static str {
    if tag == PARTS_TAG {
        "write parts"
    } else {
        "landing scan"
    }
}

/// Ballista's logical codec and credence's landing scan table.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> DfResult<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        match read::<ScanSpec>(buf) {
            Some(spec) => Ok(Arc::new(LandingScan::from_spec(&spec?)?)),
            None => self.ballista.try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        match node.downcast_ref::<LandingScan>() {
            Some(scan) => write(&scan.spec(), buf),
            None => self.ballista.try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> DfResult<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec and credence's landing scan node.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if let Some(spec) = read_tagged::<PartsSpec>(PARTS_TAG, buf) {
            let [input] = inputs else {
                return Err(DataFusionError::Internal(format!("write parts: {} inputs", inputs.len())));
            };
            return Ok(Arc::new(WriteParts::new(input.clone(), spec?)?));
        }
        match read::<ExecSpec>(buf) {
            Some(spec) => {
                let spec = spec?;
                Ok(LandingScan::from_spec(&spec.scan)?.plan(&spec.groups, spec.limit))
            }
            None => self.ballista.try_decode(buf, inputs, ctx, converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        if let Some(parts) = node.downcast_ref::<WriteParts>() {
            return write_tagged(PARTS_TAG, parts.spec(), buf);
        }
        let landing = node.downcast_ref::<DataSourceExec>().and_then(|e| e.downcast_to_file_source::<LandingSource>());
        match landing {
            Some((config, source)) => {
                let groups = config
                    .file_groups
                    .iter()
                    .map(|g| g.iter().map(file_index).collect::<DfResult<Vec<_>>>())
                    .collect::<DfResult<Vec<_>>>()?;
                write(&ExecSpec { scan: source.scan().spec(), groups, limit: config.limit }, buf)
            }
            None => self.ballista.try_encode(node, buf, converter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::engine::write_parts::Aside;
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::ExecutionPlanProperties;
    use datafusion_proto::physical_plan::AsExecutionPlan;
    use datafusion_proto::protobuf::PhysicalPlanNode;

    #[test]
    fn a_write_parts_node_travels_with_its_spec_and_its_input() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("code", DataType::Utf8, true),
        ]));
        let input = Arc::new(EmptyExec::new(schema).with_partitions(3));
        // The rows set aside travel too (an event dataset's contested rows).
        let aside = Aside { folder: "/shared/scratch-x/contested".into(), kept: vec![1, 0], when_null: 1 };
        let spec = PartsSpec {
            folder: "/shared/scratch-x/accepted".into(),
            kept: vec![0],
            split: Some(1),
            aside: Some(aside),
        };
        let node: Arc<dyn ExecutionPlan> = Arc::new(WriteParts::new(input, spec.clone()).unwrap());
        let codec = PhysicalCodec::default();
        let sent = PhysicalPlanNode::try_from_physical_plan(node, &codec).unwrap();
        let received = sent.try_into_physical_plan(&TaskContext::default(), &codec).unwrap();
        let parts = received.downcast_ref::<WriteParts>().expect("a WriteParts node");
        assert_eq!(parts.spec(), &spec);
        assert_eq!(received.output_partitioning().partition_count(), 3, "a task per input partition");
        assert_eq!(received.children()[0].name(), "EmptyExec");
    }
}
