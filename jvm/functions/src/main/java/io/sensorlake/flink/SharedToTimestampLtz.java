package io.sensorlake.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.utils.DateTimeUtils;

/**
 * {@code SHARED_TO_TIMESTAMP_LTZ(text, format)}: {@code TO_TIMESTAMP_LTZ(text, format)}, parsed
 * once for all the calls on the same text in a row.
 *
 * <p>The built-in calls {@code DateTimeUtils.parseTimestampData(text, format)} for every call; so
 * does this function, but it keeps the last text of its thread and its answer ({@link LastRecord}):
 * the source's event time is read in its column and again in its watermark.
 *
 * <pre>{@code
 * SELECT SHARED_TO_TIMESTAMP_LTZ(event_time_text, 'yyyy-MM-dd''T''HH:mm:ss.SSSX') FROM readings;
 * }</pre>
 */
public class SharedToTimestampLtz extends ScalarFunction {
    private static final ThreadLocal<LastRecord> LAST = ThreadLocal.withInitial(LastRecord::new);

    public @DataTypeHint(value = "TIMESTAMP_LTZ(3)", bridgedTo = TimestampData.class) TimestampData eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData text,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData format) {
        if (text == null || format == null) {
            return null;
        }
        return (TimestampData) LAST.get().ask(text, format, (record, f) -> DateTimeUtils.parseTimestampData(record.text(), f));
    }
}
