package io.sensorlake.flink;

import java.util.Arrays;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.binary.BinaryStringData;

/**
 * The last text a thread asked about, and what was computed from it.
 *
 * <p>Flink's generated code evaluates a derived column again at every reference (the source's
 * event time in the column, again in the watermark, again in each check), and the calls on one
 * record follow each other in the thread that runs the record's operator chain. So a one-entry
 * memory per thread answers all but the first call of a record. The text is kept as a copy and
 * compared by content: Flink may reuse the memory of a row it has passed on.
 */
final class LastRecord {
    private static final int MAX_ANSWERS = 16;

    private BinaryStringData text;
    private Object parsed;
    private StringData[] questions = new StringData[4];
    private Object[] answers = new Object[4];
    private int size;

    /** True when {@code candidate} is the text held; otherwise it becomes the text held, with no answers. */
    boolean holds(StringData candidate) {
        if (text != null && text.equals(candidate)) {
            return true;
        }
        text = ((BinaryStringData) candidate).copy();
        parsed = null;
        Arrays.fill(answers, 0, size, null);
        Arrays.fill(questions, 0, size, null);
        size = 0;
        return false;
    }

    Object parsed() {
        return parsed;
    }

    void parsed(Object value) {
        parsed = value;
    }

    /** The index of {@code question}'s answer for the text held, or -1 when it was not asked yet. */
    int find(StringData question) {
        for (int i = 0; i < size; i++) {
            if (questions[i] == question || questions[i].equals(question)) {
                return i;
            }
        }
        return -1;
    }

    Object answer(int index) {
        return answers[index];
    }

    /** Remember {@code answer} (null included) to {@code question} for the text held. */
    void remember(StringData question, Object answer) {
        if (size == MAX_ANSWERS) {
            return;
        }
        if (size == questions.length) {
            questions = Arrays.copyOf(questions, size * 2);
            answers = Arrays.copyOf(answers, size * 2);
        }
        questions[size] = ((BinaryStringData) question).copy();
        answers[size++] = answer;
    }

    String text() {
        return text.toString();
    }
}
