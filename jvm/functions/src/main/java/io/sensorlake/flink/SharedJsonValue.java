package io.sensorlake.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code SHARED_JSON_VALUE(text, path)}: {@code JSON_VALUE(text, path)}, with one parse of a text
 * for all the calls that read it in a row.
 *
 * <p>Each built-in {@code JSON_VALUE} parses the whole text again; a record whose fields are read
 * in the source's event time, its watermark and the checks was parsed about ten times. This
 * function answers from Flink's own parse and path code ({@link FlinkJson}), so its answers are
 * the built-in's for every text; it keeps the last text of its thread ({@link LastRecord}).
 *
 * <pre>{@code
 * CREATE TEMPORARY SYSTEM FUNCTION SHARED_JSON_VALUE AS 'io.sensorlake.flink.SharedJsonValue' LANGUAGE JAVA;
 * SELECT SHARED_JSON_VALUE(payload, '$.sensor'), SHARED_JSON_VALUE(payload, '$.value') FROM readings;
 * }</pre>
 */
public class SharedJsonValue extends ScalarFunction {
    private static final ThreadLocal<LastRecord> LAST = ThreadLocal.withInitial(LastRecord::new);

    public @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData text,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData path) {
        if (text == null || path == null) {
            return null;
        }
        return (StringData) LAST.get().ask(text, path, SharedJsonValue::valueOf);
    }

    private static StringData valueOf(LastRecord record, String path) {
        String value = FlinkJson.value(record.parsed(FlinkJson::parse), path);
        return value == null ? null : StringData.fromString(value);
    }
}
